#include "autograd/kernels/elementwise.h"

#include <algorithm>
#include <vector>

#include "autograd/broadcast.h"
#include "autograd/parallel.h"

namespace attnlab {
namespace {

enum class Binary { Add, Sub, Mul, Div };

constexpr const char* binary_name(Binary op) {
  switch (op) {
    case Binary::Add:
      return "add";
    case Binary::Sub:
      return "sub";
    case Binary::Mul:
      return "mul";
    case Binary::Div:
      return "div";
  }
  return "?";
}

template <Binary op, typename T>
T apply(T x, T y) {
  if constexpr (op == Binary::Add)
    return x + y;
  else if constexpr (op == Binary::Sub)
    return x - y;
  else if constexpr (op == Binary::Mul)
    return x * y;
  else
    return x / y;
}

// d(x op y)/dx and d(x op y)/dy at (x, y).
template <Binary op, typename T>
T partial_x(T x, T y) {
  if constexpr (op == Binary::Add || op == Binary::Sub)
    return T(1);
  else if constexpr (op == Binary::Mul)
    return y;
  else
    return T(1) / y;
}
template <Binary op, typename T>
T partial_y(T x, T y) {
  if constexpr (op == Binary::Add)
    return T(1);
  else if constexpr (op == Binary::Sub)
    return T(-1);
  else if constexpr (op == Binary::Mul)
    return x;
  else
    return -x / (y * y);
}

template <Binary op, typename T>
void binary_forward(T* out, const T* a, const T* b, const Shape& a_shape, const Shape& b_shape) {
  const Shape shape = broadcast_shapes(binary_name(op), a_shape, b_shape);
  broadcast_for_each(shape, broadcast_strides(a_shape, shape), broadcast_strides(b_shape, shape),
                     [&](int64_t o, int64_t ia, int64_t ib) { out[o] = apply<op>(a[ia], b[ib]); });
}

// The gradient of one operand (a when wrt_a, else b): dout * partial, summed
// over the dims where that operand repeats. add and sub never read a or b
// (their partials are constants), so those may be null.
template <Binary op, bool wrt_a, typename T>
void operand_backward(T* d, const T* dout, const T* a, const T* b, const Shape& a_shape,
                      const Shape& b_shape) {
  if (!d) return;
  constexpr bool reads_operands = op == Binary::Mul || op == Binary::Div;
  const Shape shape = broadcast_shapes(binary_name(op), a_shape, b_shape);
  const auto sa = broadcast_strides(a_shape, shape), sb = broadcast_strides(b_shape, shape);
  auto local = [&](int64_t o, int64_t ia, int64_t ib) {
    const T x = reads_operands ? a[ia] : T(0), y = reads_operands ? b[ib] : T(0);
    return dout[o] * (wrt_a ? partial_x<op>(x, y) : partial_y<op>(x, y));
  };
  const int64_t n = shape_numel(wrt_a ? a_shape : b_shape);
  if (n == shape_numel(shape)) {  // not broadcast: element o is the operand's element o
    broadcast_for_each(shape, sa, sb,
                       [&](int64_t o, int64_t ia, int64_t ib) { d[o] = local(o, ia, ib); });
    return;
  }
  // Several outputs land on one operand element: sum serially in output
  // order, so the sum does not depend on the thread count.
  std::fill(d, d + n, T(0));
  if constexpr (reads_operands) {
    // Products are stored (rounded) before the sum reads them, so the result
    // does not depend on whether the compiler fuses a multiply and an add.
    std::vector<T> products(shape_numel(shape));
    broadcast_for_each(shape, sa, sb,
                       [&](int64_t o, int64_t ia, int64_t ib) { products[o] = local(o, ia, ib); });
    broadcast_for_each_serial(shape, sa, sb, [&](int64_t o, int64_t ia, int64_t ib) {
      d[wrt_a ? ia : ib] += products[o];
    });
  } else {  // dout * +-1 is exact, so fused or not gives the same sum
    broadcast_for_each_serial(shape, sa, sb, [&](int64_t o, int64_t ia, int64_t ib) {
      d[wrt_a ? ia : ib] += local(o, ia, ib);
    });
  }
}

template <Binary op, typename T>
void binary_backward(T* da, T* db, const T* dout, const T* a, const T* b, const Shape& a_shape,
                     const Shape& b_shape) {
  operand_backward<op, true>(da, dout, a, b, a_shape, b_shape);
  operand_backward<op, false>(db, dout, a, b, a_shape, b_shape);
}

}  // namespace

template <typename T>
void add_forward(T* out, const T* a, const T* b, const Shape& a_shape, const Shape& b_shape) {
  binary_forward<Binary::Add>(out, a, b, a_shape, b_shape);
}
template <typename T>
void add_backward(T* da, T* db, const T* dout, const Shape& a_shape, const Shape& b_shape) {
  binary_backward<Binary::Add, T>(da, db, dout, nullptr, nullptr, a_shape, b_shape);
}

template <typename T>
void sub_forward(T* out, const T* a, const T* b, const Shape& a_shape, const Shape& b_shape) {
  binary_forward<Binary::Sub>(out, a, b, a_shape, b_shape);
}
template <typename T>
void sub_backward(T* da, T* db, const T* dout, const Shape& a_shape, const Shape& b_shape) {
  binary_backward<Binary::Sub, T>(da, db, dout, nullptr, nullptr, a_shape, b_shape);
}

template <typename T>
void mul_forward(T* out, const T* a, const T* b, const Shape& a_shape, const Shape& b_shape) {
  binary_forward<Binary::Mul>(out, a, b, a_shape, b_shape);
}
template <typename T>
void mul_backward(T* da, T* db, const T* dout, const T* a, const T* b, const Shape& a_shape,
                  const Shape& b_shape) {
  binary_backward<Binary::Mul>(da, db, dout, a, b, a_shape, b_shape);
}

template <typename T>
void div_forward(T* out, const T* a, const T* b, const Shape& a_shape, const Shape& b_shape) {
  binary_forward<Binary::Div>(out, a, b, a_shape, b_shape);
}
template <typename T>
void div_backward(T* da, T* db, const T* dout, const T* a, const T* b, const Shape& a_shape,
                  const Shape& b_shape) {
  binary_backward<Binary::Div>(da, db, dout, a, b, a_shape, b_shape);
}

template <typename T>
void affine_scalar_forward(T* y, const T* x, int64_t n, T alpha, T beta) {
  parallel_for(n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) y[i] = alpha * x[i] + beta;
  });
}
template <typename T>
void affine_scalar_backward(T* dx, const T* dy, int64_t n, T alpha) {
  if (!dx) return;
  parallel_for(n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) dx[i] = alpha * dy[i];
  });
}

#define ATTNLAB_INSTANTIATE(T)                                                                     \
  template void add_forward<T>(T*, const T*, const T*, const Shape&, const Shape&);                \
  template void add_backward<T>(T*, T*, const T*, const Shape&, const Shape&);                     \
  template void sub_forward<T>(T*, const T*, const T*, const Shape&, const Shape&);                \
  template void sub_backward<T>(T*, T*, const T*, const Shape&, const Shape&);                     \
  template void mul_forward<T>(T*, const T*, const T*, const Shape&, const Shape&);                \
  template void mul_backward<T>(T*, T*, const T*, const T*, const T*, const Shape&, const Shape&); \
  template void div_forward<T>(T*, const T*, const T*, const Shape&, const Shape&);                \
  template void div_backward<T>(T*, T*, const T*, const T*, const T*, const Shape&, const Shape&); \
  template void affine_scalar_forward<T>(T*, const T*, int64_t, T, T);                             \
  template void affine_scalar_backward<T>(T*, const T*, int64_t, T);
ATTNLAB_INSTANTIATE(float)
ATTNLAB_INSTANTIATE(double)
#undef ATTNLAB_INSTANTIATE

}  // namespace attnlab
