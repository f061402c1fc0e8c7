// Every differentiable op attnlab has. Each is a free function that computes
// its result and records its backward right beside it (see the .cpp named in
// each section). Shape letters used in comments across the code base:
//   B batch, T time (Tq queries, Tk keys), C channels (d_model), H heads,
//   D head dim, V vocabulary, N rows (B*T), F FFN width.
// All ops check their arguments and throw std::invalid_argument naming the op,
// the argument, and the expected and actual shapes.
#pragma once

#include <cstdint>
#include <vector>

#include "autograd/random.h"
#include "autograd/tensor.h"

namespace attnlab {

// ---- integer tensors (token ids, targets) and boolean masks -------------------
// Not differentiable, so they are plain value types rather than Tensors.
struct IntTensor {
  Shape shape;
  std::vector<int32_t> data;  // row-major, numel(shape) values
};

// Mask convention for the whole code base: `true` (1) means BLOCKED, i.e. the
// position is padding or must not be attended to.
// Broadcasts against the tensor it masks like a binary op operand (trailing
// dimensions aligned; size-1 dimensions repeat). E.g. a key padding mask for
// scores (B,H,Tq,Tk) has shape (B,1,1,Tk).
struct Mask {
  Shape shape;
  std::vector<uint8_t> blocked;  // row-major, numel(shape) values, 1 = blocked
};

// ---- element-wise arithmetic (elementwise.cpp) --------------------------------
// NumPy broadcasting of trailing dimensions: bias rows (C) against (N,C),
// per-row scalars (N,1), a (1,H,Tq,Tk) bias against (B,H,Tq,Tk), ...
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add_scalar(const Tensor& a, double s);
Tensor mul_scalar(const Tensor& a, double s);
Tensor neg(const Tensor& a);
inline Tensor operator+(const Tensor& a, const Tensor& b) {
  return add(a, b);
}
inline Tensor operator-(const Tensor& a, const Tensor& b) {
  return sub(a, b);
}
inline Tensor operator*(const Tensor& a, const Tensor& b) {
  return mul(a, b);
}
inline Tensor operator/(const Tensor& a, const Tensor& b) {
  return div(a, b);
}
inline Tensor operator*(const Tensor& a, double s) {
  return mul_scalar(a, s);
}
inline Tensor operator+(const Tensor& a, double s) {
  return add_scalar(a, s);
}
inline Tensor operator-(const Tensor& a) {
  return neg(a);
}

// ---- unary functions (unary.cpp) ----------------------------------------------
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor relu(const Tensor& x);
// GELU, x * Phi(x): Erf is exact (BERT; PyTorch's default), Tanh is
// GPT-2's tanh approximation (PyTorch's approximate="tanh"). No default, so
// that every caller says which one it means.
enum class GeluApprox { Tanh, Erf };
Tensor gelu(const Tensor& x, GeluApprox approx);

// ---- matrix products (matmul.cpp) ---------------------------------------------
// op(a) @ op(b) where op transposes the last two dims when its flag is set.
//   a: (..., M, K), or (..., K, M) with trans_a
//   b: (..., K, N), or (..., N, K) with trans_b; a 2-D b is shared by every
//      batch entry of a (a Linear weight), otherwise batch dims must match.
// Result: (..., M, N).
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);
// x @ weight^T + bias, the nn.Linear convention:
//   x (..., in), weight (out, in), bias (out) or undefined -> (..., out).
// One op: the bias is added inside the GEMM, and its gradient is a column sum.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());
// The same from reshape, matmul and add: the reference linear is tested against.
Tensor linear_composed(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// ---- shape ops (shape_ops.cpp) ------------------------------------------------
// A view sharing storage; one dimension may be -1 (inferred).
Tensor reshape(const Tensor& x, Shape shape);
// Copies x with dims reordered: result.shape[i] = x.shape[perm[i]].
Tensor permute(const Tensor& x, const std::vector<int64_t>& perm);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
// Multi-head layout helpers: (B,T,H*D) -> (B,H,T,D) and back.
Tensor split_heads(const Tensor& x, int64_t heads);
Tensor merge_heads(const Tensor& x);
// x[..., start:end, ...] along `dim` (a copy).
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end);
// Joins tensors whose shapes agree except along `dim`.
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);

// ---- reductions (reduce.cpp) --------------------------------------------------
Tensor sum(const Tensor& x);  // over all elements -> scalar ()
Tensor mean(const Tensor& x);
Tensor sum(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor mean(const Tensor& x, int64_t dim, bool keepdim = false);

// ---- softmax family (softmax.cpp) ---------------------------------------------
// Over the last dim. A row that is entirely -inf (every key blocked) yields
// zeros rather than NaN, so fully padded query rows stay finite.
Tensor softmax(const Tensor& x);
Tensor log_softmax(const Tensor& x);

// ---- attention (attention.cpp) ------------------------------------------------
// The attention weights, softmax(scale * q k^T + bias) over the keys with
// blocked keys at exactly 0, as one op that keeps only its result for
// backward:
//   q (B,H,Tq,D), k (B,H,Tk,D), bias (1|B,H,Tq,Tk) or undefined, mask
//   broadcasting to (B,H,Tq,Tk) or null -> (B,H,Tq,Tk).
// With heads = H > 0, q (B,Tq,H*D) and k (B,Tk,H*D) are the projections'
// outputs as they are: each head is read in place, never split into a copy.
// A query row with every key blocked gets zeros, as softmax does.
Tensor attention_weights(const Tensor& q, const Tensor& k, double scale, const Tensor& bias,
                         const Mask* mask, int64_t heads = 0);
// The weighted sum of values per head: p (B,H,Tq,Tk) and v (B,H,Tk,D) ->
// (B,H,Tq,D); with heads = H > 0, v (B,Tk,H*D) -> (B,Tq,H*D), the heads
// merged in place.
Tensor attention_values(const Tensor& p, const Tensor& v, int64_t heads = 0);
// The same two composed from split_heads, matmul, mul_scalar, add,
// masked_fill, softmax and merge_heads: the references the tests hold the
// fused ops to.
Tensor attention_weights_composed(const Tensor& q, const Tensor& k, double scale,
                                  const Tensor& bias, const Mask* mask, int64_t heads = 0);
Tensor attention_values_composed(const Tensor& p, const Tensor& v, int64_t heads = 0);

// Which keys each query sees, described rather than stored, for
// flash_attention (which never forms the scores) and, through dense(), for
// the ops above.
struct KeyMask {
  // Query i (of Tq, the last Tq of Tk positions) sees keys j <= i + Tk - Tq.
  bool causal = false;
  // With causal and Tq == Tk, a prefix LM: row b's first prefix[b] queries
  // also see keys j < prefix[b] (the prefix is read both ways). (B) or empty.
  std::vector<int64_t> prefix;
  // (B*Tk) values, 1 = a padding key no query sees; empty: none.
  std::vector<uint8_t> key_padding;
  // The same as a mask broadcasting to scores (B,H,Tq,Tk), or an empty one
  // when every key is seen.
  Mask dense(int64_t batch, int64_t tq, int64_t tk) const;
};

// Scaled dot-product attention as one op that never stores the (Tq,Tk)
// weights (kernels/flash_attention.h): q (B,Tq,H*D), k and v (B,Tk,H*D),
// bias (1|B,H,Tq,Tk) or undefined -> (B,Tq,H*D), the same as
//   attention_values(dropout(attention_weights(q, k, scale, bias,
//                    mask.dense(), H), dropout_p, *gen), v, H)
// mask for mask, with the same dropout mask (gen advances by B*H*Tq*Tk as
// the dropout op's would). Keeps only the output and each row's
// log-sum-exp for backward, which recomputes the weights tile by tile. A
// query that sees no key gets zeros. gen may be null when dropout_p is 0.
Tensor flash_attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads,
                       double scale, const Tensor& bias, const KeyMask& mask, double dropout_p = 0,
                       Generator* gen = nullptr);
// The same composed from attention_weights_composed, dropout and
// attention_values_composed: the reference the tests hold it to.
Tensor flash_attention_composed(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads,
                                double scale, const Tensor& bias, const KeyMask& mask,
                                double dropout_p = 0, Generator* gen = nullptr);

// ---- masking (mask.cpp) -------------------------------------------------------
// x where the mask is 0, `value` where it is 1 (mask broadcasts to x).
Tensor masked_fill(const Tensor& x, const Mask& mask, double value);
// Causal mask for (Tq, Tk) scores: query i may see keys j <= i + (Tk - Tq)
// (aligned at the end, so it also serves a query block after cached keys).
Mask causal_mask(int64_t tq, int64_t tk);

// ---- embedding (embedding.cpp) ------------------------------------------------
// weight (V,C), ids of any shape S -> (S..., C). Backward scatter-adds rows.
Tensor embedding(const Tensor& weight, const IntTensor& ids);

// ---- normalisation (norm.cpp) -------------------------------------------------
// Over the last dim C: x (..., C), gamma and beta (C).
Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps = 1e-5);
// x / rms(x) * gamma, no mean subtraction and no bias (T5).
Tensor rms_norm(const Tensor& x, const Tensor& gamma, double eps = 1e-6);

// ---- dropout (dropout.cpp) ----------------------------------------------------
// The mask comes from the counter-based Generator (random.h): identical for
// any thread count; each call advances gen.offset by numel.
// Zeroes each element with probability p and scales the rest by 1/(1-p);
// the identity when !training or p == 0.
Tensor dropout(const Tensor& x, double p, Generator& gen, bool training);

// ---- loss (loss.cpp) ----------------------------------------------------------
// Mean cross-entropy of logits (..., V) against targets (...) over targets
// that are not `ignore_index` (padding). With label smoothing e the target
// distribution is (1-e) one-hot + e/V (PyTorch's definition). Fused with
// log_softmax. If every target is ignored the loss is 0 with zero gradient.
Tensor cross_entropy(const Tensor& logits, const IntTensor& targets, int32_t ignore_index = -100,
                     double label_smoothing = 0.0);

}  // namespace attnlab
