// Attention that never stores the (Tq,Tk) weights: out = softmax(scale *
// q k^T + bias, blocked keys removed) v in one kernel pair, forward and
// backward side by side (the FlashAttention algorithm).
//
// Why: the weights kernels (kernels/attention.h) keep P (B,H,Tq,Tk) for
// backward, so activation memory and memory traffic grow with T^2 and, at
// T = 1024, attention runs at a fraction of the GEMM's speed. Here each task
// takes a block of query rows and streams the keys and values past it in
// tiles: a tile's scores live only in a small scratch, an online softmax
// keeps each row's running maximum and sum and rescales its output as a new
// tile raises the maximum, and only the output and each row's log-sum-exp
// (B,H,Tq) are kept. Backward recomputes each tile's weights from q, k and
// the log-sum-exp, which costs one more q k^T product but reads and writes
// O(T) memory instead of O(T^2).
//
// Which keys a query sees is described, not stored: causal rows see keys up
// to their own position (the queries are the last Tq of Tk positions), a
// prefix LM's prefix rows also see the rest of the prefix, and a key padding
// mask (B,Tk) removes keys. Tiles wholly past every row's last visible key
// are skipped, which halves causal attention's work.
//
// Layouts as kernels/attention.h: q, k, v and out per head through a
// HeadLayout ((B,H,T,D) or the projections' (B,T,H*D) in place); their
// gradients share their layouts. The bias is (H,Tq,Tk) shared by the batch or
// (B,H,Tq,Tk).
#pragma once

#include <cstdint>

#include "autograd/kernels/attention.h"

namespace attnlab {

struct FlashDims {
  int64_t batch, heads, tq, tk, d;
  bool bias_batched;        // the bias has a batch dim (else it is shared)
  HeadLayout q, k, v, out;  // and their gradients, the same
};

// Which keys each query row sees. causal: query i (of Tq, the last Tq of Tk
// positions) sees keys j <= i + Tk - Tq; with prefix (B lengths, Tq == Tk),
// row b's queries i < prefix[b] also see keys j < prefix[b]. key_padding
// (B,Tk), 1 = padding, removes keys. All null/false: every key is seen.
struct KeyVisibility {
  bool causal = false;
  const int64_t* prefix = nullptr;
  const uint8_t* key_padding = nullptr;
};

// Dropout on the weights, drawn as the dropout op draws it for the stored
// (B,H,Tq,Tk) weights: weight (b,h,i,j) is kept when
// Generator::uniform(seed, offset + ((b*H + h)*Tq + i)*Tk + j) >= p and
// scaled by 1/(1-p). The same counters give the same mask as
// dropout(attention_weights(...)), and backward redraws it.
struct WeightDropout {
  double p = 0;
  uint64_t seed = 0, offset = 0;
};

// The query and key tiles (rows of a task, keys per streamed tile):
// multiples of the GEMM micro kernel's 12 rows and 32 columns, so that the
// tiles' products have no partial register tiles, and small enough that a
// tile's scores (72 KiB) stay in L2 beside the packed operands.
inline constexpr int64_t kFlashQueryTile = 96;
inline constexpr int64_t kFlashKeyTile = 192;

// out = dropout(softmax(scale * q k^T + bias, unseen keys -> -inf)) v; lse
// (B,H,Tq) = each row's log-sum-exp of its scores. A row that sees no key
// gets a zero output and lse -inf.
template <typename T>
void flash_attention_forward(T* out, T* lse, const T* q, const T* k, const T* v, const T* bias,
                             const KeyVisibility& visible, const WeightDropout& drop,
                             const FlashDims& dims, T scale);

// From dout and the forward's out and lse, recomputing each tile's weights p
// and their dropped form z = dropout(p):
//   dv = z^T dout,  dz = dout v^T,  ds = p * (dropout(dz) - <dout_i, out_i>),
//   dq = scale * ds k,  dk = scale * ds^T q,  dbias = ds (summed over the
//   batch in batch order when the bias is shared).
// Outputs are overwritten; any may be null.
template <typename T>
void flash_attention_backward(T* dq, T* dk, T* dv, T* dbias, const T* dout, const T* out,
                              const T* lse, const T* q, const T* k, const T* v, const T* bias,
                              const KeyVisibility& visible, const WeightDropout& drop,
                              const FlashDims& dims, T scale);

}  // namespace attnlab
