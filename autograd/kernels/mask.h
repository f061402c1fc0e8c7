// masked_fill, forward and backward side by side. The mask (1 = blocked)
// broadcasts against x like a binary-op operand (trailing dims aligned,
// size-1 dims repeated), which the op has already checked. A null dx means
// the gradient is not wanted; otherwise dx is overwritten (not added to).
#pragma once

#include <cstdint>

#include "autograd/shape.h"

namespace attnlab {

// y (x_shape) = value where blocked (mask_shape) is 1, else x (x_shape).
template <typename T>
void masked_fill_forward(T* y, const T* x, const uint8_t* blocked, const Shape& x_shape,
                         const Shape& mask_shape, T value);
// dx (x_shape) = 0 where blocked (mask_shape) is 1, else dy (x_shape).
template <typename T>
void masked_fill_backward(T* dx, const T* dy, const uint8_t* blocked, const Shape& x_shape,
                          const Shape& mask_shape);

}  // namespace attnlab
