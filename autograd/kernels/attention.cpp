#include "autograd/kernels/attention.h"

#include <algorithm>
#include <limits>

#include "autograd/kernels/gemm.h"
#include "autograd/kernels/softmax.h"
#include "autograd/parallel.h"

namespace attnlab {

template <typename T>
void attention_weights_forward(T* p, const T* q, const T* k, const T* bias, const uint8_t* mask,
                               const MaskStrides& ms, const AttentionDims& dims, T scale) {
  const int64_t bh = dims.batch * dims.heads, tq = dims.tq, tk = dims.tk, d = dims.d;
  const BatchStrides per_p{dims.heads * tq * tk, tq * tk};
  // p (B,H,Tq,Tk) = scale * q k^T
  gemm_batched_2d<T>(false, true, dims.batch, dims.heads, tq, tk, d, scale, q, dims.q.row,
                     {dims.q.batch, dims.q.head}, k, dims.k.row, {dims.k.batch, dims.k.head}, T(0),
                     p, tk, per_p);
  const T neg_inf = -std::numeric_limits<T>::infinity();
  parallel_rows(bh * tq, tk, [&](int64_t r) {
    const int64_t b = r / (dims.heads * tq), h = (r / tq) % dims.heads, i = r % tq;
    T* row = p + r * tk;
    if (bias) {
      const T* bias_row = bias + ((dims.bias_batched ? b * dims.heads : 0) + h) * tq * tk + i * tk;
#pragma omp simd
      for (int64_t j = 0; j < tk; ++j) row[j] += bias_row[j];
    }
    if (mask) {
      const uint8_t* m = mask + b * ms.b + h * ms.h + i * ms.i;
      for (int64_t j = 0; j < tk; ++j)
        if (m[j * ms.j]) row[j] = neg_inf;
    }
    softmax_row(row, row, tk);  // a row with every key blocked becomes zeros
  });
}

template <typename T>
void attention_weights_backward(T* dq, T* dk, T* dbias, T* ds, const T* dp, const T* p, const T* q,
                                const T* k, const AttentionDims& dims, T scale) {
  const int64_t bh = dims.batch * dims.heads, tq = dims.tq, tk = dims.tk, d = dims.d;
  parallel_rows(bh * tq, tk,
                [&](int64_t r) { softmax_backward_row(ds + r * tk, dp + r * tk, p + r * tk, tk); });
  if (dbias) {
    if (dims.bias_batched) {
      std::copy(ds, ds + bh * tq * tk, dbias);
    } else if (dims.batch == 0) {  // no rows: nothing reaches the shared bias
      std::fill(dbias, dbias + dims.heads * tq * tk, T(0));
    } else {  // (H,Tq,Tk): each row sums the batch's rows in batch order
      const int64_t rows = dims.heads * tq, stride = dims.heads * tq * tk;
      parallel_rows(rows, tk * dims.batch, [&](int64_t r) {
        T* out = dbias + r * tk;
        std::copy(ds + r * tk, ds + (r + 1) * tk, out);
        for (int64_t b = 1; b < dims.batch; ++b) {
          const T* src = ds + b * stride + r * tk;
#pragma omp simd
          for (int64_t j = 0; j < tk; ++j) out[j] += src[j];
        }
      });
    }
  }
  // dq = scale * ds k;  dk = scale * ds^T q (each in its operand's layout)
  const BatchStrides per_p{dims.heads * tq * tk, tq * tk};
  const BatchStrides per_q{dims.q.batch, dims.q.head}, per_k{dims.k.batch, dims.k.head};
  if (dq)
    gemm_batched_2d<T>(false, false, dims.batch, dims.heads, tq, d, tk, scale, ds, tk, per_p, k,
                       dims.k.row, per_k, T(0), dq, dims.q.row, per_q);
  if (dk)
    gemm_batched_2d<T>(true, false, dims.batch, dims.heads, tk, d, tq, scale, ds, tk, per_p, q,
                       dims.q.row, per_q, T(0), dk, dims.k.row, per_k);
}

template <typename T>
void attention_values_forward(T* out, const T* p, const T* v, const ValueDims& dims) {
  const int64_t tq = dims.tq, tk = dims.tk, d = dims.d;
  gemm_batched_2d<T>(false, false, dims.batch, dims.heads, tq, d, tk, T(1), p, tk,
                     {dims.heads * tq * tk, tq * tk}, v, dims.v.row, {dims.v.batch, dims.v.head},
                     T(0), out, dims.out.row, {dims.out.batch, dims.out.head});
}

template <typename T>
void attention_values_backward(T* dp, T* dv, const T* dout, const T* p, const T* v,
                               const ValueDims& dims) {
  const int64_t tq = dims.tq, tk = dims.tk, d = dims.d;
  const BatchStrides per_p{dims.heads * tq * tk, tq * tk};
  const BatchStrides per_v{dims.v.batch, dims.v.head}, per_out{dims.out.batch, dims.out.head};
  if (dp)
    gemm_batched_2d<T>(false, true, dims.batch, dims.heads, tq, tk, d, T(1), dout, dims.out.row,
                       per_out, v, dims.v.row, per_v, T(0), dp, tk, per_p);
  if (dv)
    gemm_batched_2d<T>(true, false, dims.batch, dims.heads, tk, d, tq, T(1), p, tk, per_p, dout,
                       dims.out.row, per_out, T(0), dv, dims.v.row, per_v);
}

#define ATTNLAB_INSTANTIATE(T)                                                                 \
  template void attention_weights_forward<T>(T*, const T*, const T*, const T*, const uint8_t*, \
                                             const MaskStrides&, const AttentionDims&, T);     \
  template void attention_weights_backward<T>(T*, T*, T*, T*, const T*, const T*, const T*,    \
                                              const T*, const AttentionDims&, T);              \
  template void attention_values_forward<T>(T*, const T*, const T*, const ValueDims&);         \
  template void attention_values_backward<T>(T*, T*, const T*, const T*, const T*,             \
                                             const ValueDims&);
ATTNLAB_INSTANTIATE(float)
ATTNLAB_INSTANTIATE(double)
#undef ATTNLAB_INSTANTIATE

}  // namespace attnlab
