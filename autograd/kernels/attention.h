// Attention weights in one kernel pair: P = softmax(scale * Q K^T + bias),
// blocked keys at exactly 0, forward and backward side by side.
//
// Why fused: composed from matmul, mul_scalar, add, masked_fill and softmax,
// each (B,H,Tq,Tk) step writes a new tensor and the graph keeps four of them
// for backward. Here the scale rides in the GEMM's alpha, bias and mask are
// applied in the softmax's pass, and only P is kept.
//
// Layout: q (B*H, Tq, D), k (B*H, Tk, D), p (B*H, Tq, Tk), rows in (b, h, i)
// order. The bias is (H, Tq, Tk) shared by the batch, or (B, H, Tq, Tk). The
// mask is read at mask[b*sb + h*sh + i*si + j*sj] (strides 0 along broadcast
// dims), 1 = blocked.
#pragma once

#include <cstdint>

namespace attnlab {

struct AttentionDims {
  int64_t batch, heads, tq, tk, d;
  bool bias_batched;  // the bias has a batch dim (else it is shared)
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

}  // namespace attnlab
