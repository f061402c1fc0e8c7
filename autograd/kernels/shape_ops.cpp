#include "autograd/kernels/shape_ops.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "autograd/parallel.h"

namespace attnlab {

template <typename T>
void permute_copy(T* dst, const T* src, const int64_t* src_shape, const int64_t* perm,
                  int64_t rank) {
  // walk[i]: the src stride of dst dim i.
  std::vector<int64_t> dst_shape(rank), src_strides(rank), walk(rank);
  int64_t s = 1;
  for (int64_t d = rank - 1; d >= 0; --d) {
    src_strides[d] = s;
    s *= src_shape[d];
  }
  for (int64_t i = 0; i < rank; ++i) {
    dst_shape[i] = src_shape[perm[i]];
    walk[i] = src_strides[perm[i]];
  }
  const int64_t last = rank ? dst_shape[rank - 1] : 1;
  const int64_t last_stride = rank ? walk[rank - 1] : 0;
  if (last == 0) return;
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < rank; ++d) rows *= dst_shape[d];
  parallel_for(rows, row_grain(last), [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) {
      int64_t off = 0, rest = row;  // src offset of the row's first element
      for (int64_t d = rank - 2; d >= 0; --d) {
        off += (rest % dst_shape[d]) * walk[d];
        rest /= dst_shape[d];
      }
      T* out = dst + row * last;
      for (int64_t j = 0; j < last; ++j) out[j] = src[off + j * last_stride];
    }
  });
}

template <typename T>
void copy_slice(T* part, const T* whole, int64_t outer, int64_t full, int64_t inner, int64_t start,
                int64_t len) {
  const int64_t block = len * inner;
  parallel_for(outer, row_grain(block), [&](int64_t lo, int64_t hi) {
    for (int64_t o = lo; o < hi; ++o)
      std::memcpy(part + o * block, whole + (o * full + start) * inner, sizeof(T) * block);
  });
}

template <typename T>
void copy_into_slice(T* whole, const T* part, int64_t outer, int64_t full, int64_t inner,
                     int64_t start, int64_t len) {
  const int64_t block = len * inner;
  parallel_for(outer, row_grain(block), [&](int64_t lo, int64_t hi) {
    for (int64_t o = lo; o < hi; ++o)
      std::memcpy(whole + (o * full + start) * inner, part + o * block, sizeof(T) * block);
  });
}

template <typename T>
void slice_backward(T* dx, const T* dout, int64_t outer, int64_t full, int64_t inner, int64_t start,
                    int64_t len) {
  parallel_for(outer, row_grain(full * inner), [&](int64_t lo, int64_t hi) {
    for (int64_t o = lo; o < hi; ++o) {
      T* row = dx + o * full * inner;
      std::fill(row, row + start * inner, T(0));
      std::memcpy(row + start * inner, dout + o * len * inner, sizeof(T) * len * inner);
      std::fill(row + (start + len) * inner, row + full * inner, T(0));
    }
  });
}

#define ATTNLAB_INSTANTIATE(T)                                                                 \
  template void permute_copy<T>(T*, const T*, const int64_t*, const int64_t*, int64_t);        \
  template void copy_slice<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t, int64_t);      \
  template void copy_into_slice<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t, int64_t); \
  template void slice_backward<T>(T*, const T*, int64_t, int64_t, int64_t, int64_t, int64_t);
ATTNLAB_INSTANTIATE(float)
ATTNLAB_INSTANTIATE(double)
#undef ATTNLAB_INSTANTIATE

}  // namespace attnlab
