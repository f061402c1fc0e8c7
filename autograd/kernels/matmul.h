// Batched matrix products with transpose flags, forward and backward side by
// side, on top of gemm (autograd/kernels/gemm.h). Shapes, per batch entry:
//   op(a) (M,K): a is stored (M,K), or (K,M) when trans_a
//   op(b) (K,N): b is stored (K,N), or (N,K) when trans_b
//   c (M,N) = op(a) op(b)
// a and c hold `batch` entries back to back. b does too, unless b_shared: then
// one b serves every entry (a Linear weight). Results do not depend on the
// thread count (gemm's guarantee; the shared-b gradient sums the batch
// entries in a fixed order).
#pragma once

#include <cstdint>

namespace attnlab {

// c (batch,M,N) = op(a) (batch,M,K) @ op(b) (K,N), overwritten.
template <typename T>
void matmul_forward(T* c, const T* a, const T* b, int64_t batch, int64_t m, int64_t n, int64_t k,
                    bool trans_a, bool trans_b, bool b_shared);

// From dc (batch,M,N):
//   d op(a) = dc op(b)^T (M,K)    d op(b) = op(a)^T dc (K,N)
// each stored like its operand (a transposed operand receives the transpose).
// da has a's shape; db has b's shape, and with b_shared it is the sum over
// the batch entries. Both are overwritten (gemm with beta = 0, never added to
// what they held); either may be null when that gradient is not wanted. da
// reads b and db reads a.
template <typename T>
void matmul_backward(T* da, T* db, const T* dc, const T* a, const T* b, int64_t batch, int64_t m,
                     int64_t n, int64_t k, bool trans_a, bool trans_b, bool b_shared);

// ---- linear: y = x w^T + b, the bias fused into the GEMM ----------------------
// y (rows,out) = x (rows,in) @ w (out,in)^T + bias (out); bias may be null.
template <typename T>
void linear_forward(T* y, const T* x, const T* w, const T* bias, int64_t rows, int64_t in,
                    int64_t out);
// dx (rows,in) = dy w;  dw (out,in) = dy^T x;  dbias (out) = dy summed over rows, each column
// in row order (the same for any thread count). Each is overwritten; any may be null.
template <typename T>
void linear_backward(T* dx, T* dw, T* dbias, const T* dy, const T* x, const T* w, int64_t rows,
                     int64_t in, int64_t out);

}  // namespace attnlab
