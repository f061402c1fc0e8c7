// Attention weights in one kernel pair: P = softmax(scale * Q K^T + bias),
// blocked keys at exactly 0, forward and backward side by side.
//
// Why fused: composed from matmul, mul_scalar, add, masked_fill and softmax,
// each (B,H,Tq,Tk) step writes a new tensor and the graph keeps four of them
// for backward. Here the scale rides in the GEMM's alpha, bias and mask are
// applied in the softmax's pass, and only P is kept.
//
// Layout: p (B,H,Tq,Tk), rows in (b, h, i) order. q and k are read per head
// through a HeadLayout: (B,H,T,D) as it is, or the projections' own
// (B,T,H*D) in place, without splitting the heads into a copy. The bias is
// (H, Tq, Tk) shared by the batch, or (B, H, Tq, Tk). The mask is read at
// mask[b*sb + h*sh + i*si + j*sj] (strides 0 along broadcast dims), 1 = blocked.
#pragma once

#include <cstdint>

namespace attnlab {

// Where row i of head h of batch entry b starts: b*batch + h*head + i*row
// (elements); the D values of the row are contiguous.
struct HeadLayout {
  int64_t batch, head, row;
};
// (B,H,T,D)
inline HeadLayout heads_apart(int64_t heads, int64_t t, int64_t d) {
  return {heads * t * d, t * d, d};
}
// (B,T,H*D): head h is columns [h*D, (h+1)*D) of every row
inline HeadLayout heads_in_channels(int64_t heads, int64_t t, int64_t d) {
  return {t * heads * d, d, heads * d};
}

struct AttentionDims {
  int64_t batch, heads, tq, tk, d;
  bool bias_batched;  // the bias has a batch dim (else it is shared)
  HeadLayout q, k;    // and their gradients, the same
};

struct MaskStrides {
  int64_t b = 0, h = 0, i = 0, j = 0;
};

// p = softmax(scale * q k^T + bias, blocked -> -inf); a fully blocked row is 0.
template <typename T>
void attention_weights_forward(T* p, const T* q, const T* k, const T* bias, const uint8_t* mask,
                               const MaskStrides& ms, const AttentionDims& dims, T scale);

// From dp and the forward's p, with ds = p * (dp - <dp, p>_row) (the softmax
// backward; blocked keys have p = 0 and so ds = 0):
//   dq = scale * ds k,  dk = scale * ds^T q,  dbias = ds (summed over the
//   batch, in batch order, when the bias is shared).
// `ds` is scratch of p's size. Outputs are overwritten; any may be null.
template <typename T>
void attention_weights_backward(T* dq, T* dk, T* dbias, T* ds, const T* dp, const T* p, const T* q,
                                const T* k, const AttentionDims& dims, T scale);

// ---- the weighted sum of values ------------------------------------------------
// out = p v per head: p (B,H,Tq,Tk), v (B,H,Tk,D) or (B,Tk,H*D), out in the
// layout `out` says ((B,H,Tq,D) or (B,Tq,H*D), merging the heads in place).
struct ValueDims {
  int64_t batch, heads, tq, tk, d;
  HeadLayout v, out;
};
template <typename T>
void attention_values_forward(T* out, const T* p, const T* v, const ValueDims& dims);
// dp = dout v^T (B,H,Tq,Tk);  dv = p^T dout (v's layout). Either may be null.
template <typename T>
void attention_values_backward(T* dp, T* dv, const T* dout, const T* p, const T* v,
                               const ValueDims& dims);

}  // namespace attnlab
