#include "autograd/kernels/mask.h"

#include "autograd/broadcast.h"

namespace attnlab {

template <typename T>
void masked_fill_forward(T* y, const T* x, const uint8_t* blocked, const Shape& x_shape,
                         const Shape& mask_shape, T value) {
  broadcast_for_each(
      x_shape, broadcast_strides(x_shape, x_shape), broadcast_strides(mask_shape, x_shape),
      [&](int64_t o, int64_t ix, int64_t im) { y[o] = blocked[im] ? value : x[ix]; });
}

template <typename T>
void masked_fill_backward(T* dx, const T* dy, const uint8_t* blocked, const Shape& x_shape,
                          const Shape& mask_shape) {
  if (!dx) return;
  broadcast_for_each(x_shape, broadcast_strides(x_shape, x_shape),
                     broadcast_strides(mask_shape, x_shape),
                     [&](int64_t o, int64_t, int64_t im) { dx[o] = blocked[im] ? T(0) : dy[o]; });
}

#define ATTNLAB_INSTANTIATE(T)                                                                   \
  template void masked_fill_forward<T>(T*, const T*, const uint8_t*, const Shape&, const Shape&, \
                                       T);                                                       \
  template void masked_fill_backward<T>(T*, const T*, const uint8_t*, const Shape&, const Shape&);
ATTNLAB_INSTANTIATE(float)
ATTNLAB_INSTANTIATE(double)
#undef ATTNLAB_INSTANTIATE

}  // namespace attnlab
