#include "autograd/kernels/attention.h"

#include <algorithm>
#include <limits>

#include "autograd/kernels/gemm.h"
#include "autograd/kernels/vector_math.h"
#include "autograd/parallel.h"

namespace attnlab {

template <typename T>
void attention_weights_forward(T* p, const T* q, const T* k, const T* bias, const uint8_t* mask,
                               const MaskStrides& ms, const AttentionDims& dims, T scale) {
  const int64_t bh = dims.batch * dims.heads, tq = dims.tq, tk = dims.tk, d = dims.d;
  // p (B*H,Tq,Tk) = scale * q k^T
  gemm_batched<T>(false, true, bh, tq, tk, d, scale, q, d, tq * d, k, d, tk * d, T(0), p, tk,
                  tq * tk);
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
    T top = neg_inf;
#pragma omp simd reduction(max : top)
    for (int64_t j = 0; j < tk; ++j) top = std::max(top, row[j]);
    if (top == neg_inf) {  // every key blocked
      std::fill(row, row + tk, T(0));
      return;
    }
    T total = 0;
#pragma omp simd reduction(+ : total)
    for (int64_t j = 0; j < tk; ++j) {
      row[j] = fast_exp(row[j] - top);
      total += row[j];
    }
    const T inv = T(1) / total;
#pragma omp simd
    for (int64_t j = 0; j < tk; ++j) row[j] *= inv;
  });
}

template <typename T>
void attention_weights_backward(T* dq, T* dk, T* dbias, T* ds, const T* dp, const T* p, const T* q,
                                const T* k, const AttentionDims& dims, T scale) {
  const int64_t bh = dims.batch * dims.heads, tq = dims.tq, tk = dims.tk, d = dims.d;
  parallel_rows(bh * tq, tk, [&](int64_t r) {
    const T *pr = p + r * tk, *gr = dp + r * tk;
    T dot = 0;
#pragma omp simd reduction(+ : dot)
    for (int64_t j = 0; j < tk; ++j) dot += gr[j] * pr[j];
    T* out = ds + r * tk;
#pragma omp simd
    for (int64_t j = 0; j < tk; ++j) out[j] = pr[j] * (gr[j] - dot);
  });
  if (dbias) {
    if (dims.bias_batched) {
      std::copy(ds, ds + bh * tq * tk, dbias);
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
  // dq (B*H,Tq,D) = scale * ds k;  dk (B*H,Tk,D) = scale * ds^T q
  if (dq)
    gemm_batched<T>(false, false, bh, tq, d, tk, scale, ds, tk, tq * tk, k, d, tk * d, T(0), dq, d,
                    tq * d);
  if (dk)
    gemm_batched<T>(true, false, bh, tk, d, tq, scale, ds, tk, tq * tk, q, d, tq * d, T(0), dk, d,
                    tk * d);
}

#define ATTNLAB_INSTANTIATE(T)                                                                 \
  template void attention_weights_forward<T>(T*, const T*, const T*, const T*, const uint8_t*, \
                                             const MaskStrides&, const AttentionDims&, T);     \
  template void attention_weights_backward<T>(T*, T*, T*, T*, const T*, const T*, const T*,    \
                                              const T*, const AttentionDims&, T);
ATTNLAB_INSTANTIATE(float)
ATTNLAB_INSTANTIATE(double)
#undef ATTNLAB_INSTANTIATE

}  // namespace attnlab
