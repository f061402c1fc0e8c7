#include "autograd/kernels/reduce.h"

#include <algorithm>
#include <vector>

#include "autograd/parallel.h"

namespace attnlab {
namespace {

constexpr int64_t kSumChunk = 4096;  // partial sums over fixed chunks, then in order
constexpr int64_t kColumnChunk = 256;

}  // namespace

template <typename T>
void sum_forward(T* out, const T* x, int64_t n, T scale) {
  const int64_t chunks = (n + kSumChunk - 1) / kSumChunk;
  std::vector<T> partial(chunks, T(0));
  parallel_for(chunks, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) {
      T acc = 0;
      for (int64_t i = c * kSumChunk; i < std::min(n, (c + 1) * kSumChunk); ++i) acc += x[i];
      partial[c] = acc;
    }
  });
  T total = 0;
  for (T p : partial) total += p;
  out[0] = total * scale;
}

template <typename T>
void sum_backward(T* dx, const T* dy, int64_t n, T scale) {
  if (!dx) return;
  const T v = dy[0] * scale;
  parallel_for(n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) dx[i] = v;
  });
}

template <typename T>
void sum_dim_forward(T* out, const T* x, int64_t outer, int64_t n, int64_t inner, T scale) {
  const int64_t col_chunks = (inner + kColumnChunk - 1) / kColumnChunk;
  // Each job sums n rows of up to kColumnChunk columns.
  parallel_for(outer * col_chunks, row_grain(n * std::min(inner, kColumnChunk)),
               [&](int64_t lo, int64_t hi) {
                 for (int64_t job = lo; job < hi; ++job) {
                   int64_t o = job / col_chunks, c0 = (job % col_chunks) * kColumnChunk;
                   int64_t c1 = std::min(inner, c0 + kColumnChunk);
                   T* dst = out + o * inner;
                   for (int64_t i = c0; i < c1; ++i) dst[i] = 0;
                   for (int64_t j = 0; j < n; ++j) {
                     const T* src = x + (o * n + j) * inner;
                     for (int64_t i = c0; i < c1; ++i) dst[i] += src[i];
                   }
                   for (int64_t i = c0; i < c1; ++i) dst[i] *= scale;
                 }
               });
}

template <typename T>
void sum_dim_backward(T* dx, const T* dy, int64_t outer, int64_t n, int64_t inner, T scale) {
  if (!dx) return;
  parallel_for(outer * n, row_grain(inner), [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) {
      const T* src = dy + (row / n) * inner;
      T* dst = dx + row * inner;
      for (int64_t i = 0; i < inner; ++i) dst[i] = src[i] * scale;
    }
  });
}

#define ATTNLAB_INSTANTIATE(T)                                                  \
  template void sum_forward<T>(T*, const T*, int64_t, T);                       \
  template void sum_backward<T>(T*, const T*, int64_t, T);                      \
  template void sum_dim_forward<T>(T*, const T*, int64_t, int64_t, int64_t, T); \
  template void sum_dim_backward<T>(T*, const T*, int64_t, int64_t, int64_t, T);
ATTNLAB_INSTANTIATE(float)
ATTNLAB_INSTANTIATE(double)
#undef ATTNLAB_INSTANTIATE

}  // namespace attnlab
