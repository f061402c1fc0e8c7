// add, sub, mul, div with broadcasting; scalar variants; neg. The arithmetic
// lives in named kernels (autograd/kernels/elementwise.h); this file checks
// the arguments and records the ops.
#include "autograd/kernels/elementwise.h"
#include "autograd/op.h"
#include "autograd/ops.h"

namespace attnlab {
namespace {

// The four binary ops differ only in their kernel pair.
// `forward(out, a, b, a_shape, b_shape)` and
// `backward(da, db, dout, a, b, a_shape, b_shape)` are generic over the
// element type. a has shape A and b shape B, any two shapes that broadcast.
template <typename Forward, typename Backward>
Tensor binary(const char* name, const Tensor& a, const Tensor& b, Forward forward,
              Backward backward) {
  check_defined(name, "a", a);
  check_defined(name, "b", b);
  check_same_dtype(name, a, b);
  Shape out_shape = broadcast_shapes(name, a.shape(), b.shape());
  Tensor out = Tensor::empty(out_shape, a.dtype());  // broadcast(A, B)
  dispatch(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    forward(out.data<T>(), a.data<T>(), b.data<T>(), a.shape(), b.shape());
  });
  record_op(out, name, {a, b}, [backward](const BackwardContext& ctx) -> std::vector<Tensor> {
    const Tensor &a = ctx.inputs[0], &b = ctx.inputs[1];  // A, B
    const Tensor& dout = ctx.grad_output;                 // broadcast(A, B)
    Tensor da = ctx.new_grad(0);                          // A: summed over the dims where a repeats
    Tensor db = ctx.new_grad(1);                          // B, likewise
    dispatch(dout.dtype(), [&](auto tag) {
      using T = decltype(tag);
      backward(data_or_null<T>(da), data_or_null<T>(db), dout.data<T>(), a.data<T>(), b.data<T>(),
               a.shape(), b.shape());
    });
    return {da, db};
  });
  return out;
}

// y = alpha * x + beta, the shared form of the scalar ops and neg.
Tensor affine_scalar(const char* name, const Tensor& x, double alpha, double beta) {
  check_defined(name, "x", x);
  Tensor y = Tensor::empty(x.shape(), x.dtype());  // (...)
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    affine_scalar_forward<T>(y.data<T>(), x.data<T>(), x.numel(), T(alpha), T(beta));
  });
  record_op(y, name, {x}, [alpha](const BackwardContext& ctx) -> std::vector<Tensor> {
    const Tensor& dy = ctx.grad_output;  // (...)
    Tensor dx = ctx.new_grad(0);         // (...)
    dispatch(dy.dtype(), [&](auto tag) {
      using T = decltype(tag);
      affine_scalar_backward<T>(data_or_null<T>(dx), dy.data<T>(), dy.numel(), T(alpha));
    });
    return {dx};
  });
  return y;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  if (a.defined() && b.defined() && a.shape() == b.shape() && a.dtype() == b.dtype()) {
    // Same shapes (a residual sum): the gradient of each operand is the
    // output's gradient itself, handed to both without a copy (the engine
    // copies on write, autograd/tensor.cpp).
    Tensor out = Tensor::empty(a.shape(), a.dtype());  // (...)
    dispatch(a.dtype(), [&](auto tag) {
      using T = decltype(tag);
      add_forward<T>(out.data<T>(), a.data<T>(), b.data<T>(), a.shape(), b.shape());
    });
    record_op(out, "add", {a, b}, [](const BackwardContext& ctx) -> std::vector<Tensor> {
      return {ctx.needs_grad(0) ? ctx.grad_output : Tensor(),
              ctx.needs_grad(1) ? ctx.grad_output : Tensor()};
    });
    return out;
  }
  return binary(
      "add", a, b,
      [](auto* out, const auto* a, const auto* b, const Shape& a_shape, const Shape& b_shape) {
        add_forward(out, a, b, a_shape, b_shape);
      },
      [](auto* da, auto* db, const auto* dout, const auto*, const auto*, const Shape& a_shape,
         const Shape& b_shape) { add_backward(da, db, dout, a_shape, b_shape); });
}
Tensor sub(const Tensor& a, const Tensor& b) {
  return binary(
      "sub", a, b,
      [](auto* out, const auto* a, const auto* b, const Shape& a_shape, const Shape& b_shape) {
        sub_forward(out, a, b, a_shape, b_shape);
      },
      [](auto* da, auto* db, const auto* dout, const auto*, const auto*, const Shape& a_shape,
         const Shape& b_shape) { sub_backward(da, db, dout, a_shape, b_shape); });
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return binary(
      "mul", a, b,
      [](auto* out, const auto* a, const auto* b, const Shape& a_shape, const Shape& b_shape) {
        mul_forward(out, a, b, a_shape, b_shape);
      },
      [](auto* da, auto* db, const auto* dout, const auto* a, const auto* b, const Shape& a_shape,
         const Shape& b_shape) { mul_backward(da, db, dout, a, b, a_shape, b_shape); });
}
Tensor div(const Tensor& a, const Tensor& b) {
  return binary(
      "div", a, b,
      [](auto* out, const auto* a, const auto* b, const Shape& a_shape, const Shape& b_shape) {
        div_forward(out, a, b, a_shape, b_shape);
      },
      [](auto* da, auto* db, const auto* dout, const auto* a, const auto* b, const Shape& a_shape,
         const Shape& b_shape) { div_backward(da, db, dout, a, b, a_shape, b_shape); });
}
Tensor add_scalar(const Tensor& a, double s) {
  return affine_scalar("add_scalar", a, 1.0, s);
}
Tensor mul_scalar(const Tensor& a, double s) {
  return affine_scalar("mul_scalar", a, s, 0.0);
}
Tensor neg(const Tensor& a) {
  return affine_scalar("neg", a, -1.0, 0.0);
}

}  // namespace attnlab
