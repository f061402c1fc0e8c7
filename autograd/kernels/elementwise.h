// Element-wise arithmetic, forward and backward side by side: add, sub, mul
// and div with NumPy broadcasting, and y = alpha * x + beta (add_scalar,
// mul_scalar, neg).
//
// The binary kernels take the operands' shapes; the result has their
// broadcast shape (trailing dims aligned, size-1 dims repeated), which the op
// has already checked. A backward output pointer may be null when that
// gradient is not wanted; the others are overwritten (not added to). The
// gradient of a broadcast operand is dout * partial summed over the dims where
// the operand repeats: serially in output order, so it does not depend on the
// thread count.
#pragma once

#include <cstdint>

#include "autograd/shape.h"

namespace attnlab {

// out (broadcast of a_shape, b_shape) = a (a_shape) + b (b_shape).
template <typename T>
void add_forward(T* out, const T* a, const T* b, const Shape& a_shape, const Shape& b_shape);
// da (a_shape) = dout, db (b_shape) = dout, each summed to its shape.
template <typename T>
void add_backward(T* da, T* db, const T* dout, const Shape& a_shape, const Shape& b_shape);

// out = a - b.
template <typename T>
void sub_forward(T* out, const T* a, const T* b, const Shape& a_shape, const Shape& b_shape);
// da = dout, db = -dout, each summed to its shape.
template <typename T>
void sub_backward(T* da, T* db, const T* dout, const Shape& a_shape, const Shape& b_shape);

// out = a * b.
template <typename T>
void mul_forward(T* out, const T* a, const T* b, const Shape& a_shape, const Shape& b_shape);
// da = dout * b, db = dout * a, each summed to its shape.
template <typename T>
void mul_backward(T* da, T* db, const T* dout, const T* a, const T* b, const Shape& a_shape,
                  const Shape& b_shape);

// out = a / b.
template <typename T>
void div_forward(T* out, const T* a, const T* b, const Shape& a_shape, const Shape& b_shape);
// da = dout / b, db = -dout * a / b^2, each summed to its shape.
template <typename T>
void div_backward(T* da, T* db, const T* dout, const T* a, const T* b, const Shape& a_shape,
                  const Shape& b_shape);

// y (n) = alpha * x (n) + beta.
template <typename T>
void affine_scalar_forward(T* y, const T* x, int64_t n, T alpha, T beta);
// dx (n) = alpha * dy (n).
template <typename T>
void affine_scalar_backward(T* dx, const T* dy, int64_t n, T alpha);

}  // namespace attnlab
