#include "autograd/kernels/dropout.h"

#include "autograd/parallel.h"
#include "autograd/random.h"

namespace attnlab {
namespace {

// out[i] = in[i] * (0 or 1/(1-p)), the factor drawn for element i.
template <typename T>
void apply_mask(T* out, const T* in, int64_t n, double p, uint64_t seed, uint64_t offset) {
  const T scale = T(1.0 / (1.0 - p));
  const uint64_t threshold = dropout_threshold(p);
  // Captured by value: through references, every store to out might change them.
  parallel_for(n, kElementwiseGrain, [=](int64_t lo, int64_t hi) {
    T* __restrict o = out;
    const T* __restrict x = in;
#pragma omp simd
    for (int64_t i = lo; i < hi; ++i)
      o[i] = x[i] * (dropout_drops(seed, offset + uint64_t(i), threshold) ? T(0) : scale);
  });
}

}  // namespace

template <typename T>
void dropout_forward(T* y, const T* x, int64_t n, double p, uint64_t seed, uint64_t offset) {
  apply_mask(y, x, n, p, seed, offset);
}

template <typename T>
void dropout_backward(T* dx, const T* dy, int64_t n, double p, uint64_t seed, uint64_t offset) {
  if (dx) apply_mask(dx, dy, n, p, seed, offset);
}

#define ATTNLAB_INSTANTIATE(T)                                                         \
  template void dropout_forward<T>(T*, const T*, int64_t, double, uint64_t, uint64_t); \
  template void dropout_backward<T>(T*, const T*, int64_t, double, uint64_t, uint64_t);
ATTNLAB_INSTANTIATE(float)
ATTNLAB_INSTANTIATE(double)
#undef ATTNLAB_INSTANTIATE

}  // namespace attnlab
