#include "autograd/kernels/embedding.h"

#include <algorithm>
#include <cstring>

#include "autograd/parallel.h"

namespace attnlab {

template <typename T>
void embedding_forward(T* out, const T* weight, const int32_t* ids, int64_t n, int64_t c) {
  parallel_for(n, row_grain(c), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) std::memcpy(out + i * c, weight + ids[i] * c, sizeof(T) * c);
  });
}

template <typename T>
void embedding_backward(T* dweight, const T* dout, const int32_t* ids, int64_t n, int64_t c) {
  // Parallel over column blocks: every thread walks the ids in order, so
  // repeated ids accumulate in the same order for any thread count.
  constexpr int64_t kCols = 64;
  parallel_for((c + kCols - 1) / kCols, 1, [&](int64_t lo, int64_t hi) {
    const int64_t c0 = lo * kCols, c1 = std::min(c, hi * kCols);
    for (int64_t i = 0; i < n; ++i) {
      T* dst = dweight + ids[i] * c;
      const T* src = dout + i * c;
      for (int64_t j = c0; j < c1; ++j) dst[j] += src[j];
    }
  });
}

#define ATTNLAB_INSTANTIATE(T)                                                        \
  template void embedding_forward<T>(T*, const T*, const int32_t*, int64_t, int64_t); \
  template void embedding_backward<T>(T*, const T*, const int32_t*, int64_t, int64_t);
ATTNLAB_INSTANTIATE(float)
ATTNLAB_INSTANTIATE(double)
#undef ATTNLAB_INSTANTIATE

}  // namespace attnlab
