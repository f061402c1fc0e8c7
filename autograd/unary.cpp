// Element-wise functions. The arithmetic lives in named kernels
// (autograd/kernels/unary.h); this file checks the argument and records the
// op.
#include "autograd/kernels/unary.h"
#include "autograd/op.h"
#include "autograd/ops.h"

namespace attnlab {
namespace {

// What a backward kernel reads besides dy: the op's input x, or its output y
// (exp, sqrt and tanh have their derivative in terms of y, which is then kept
// instead of recomputed).
enum class DerivativeFrom { Input, Output };

// The functions differ only in their kernel pair. `forward(y, x, n)` and
// `backward(dx, dy, x_or_y, n)` are generic over the element type.
template <typename Forward, typename Backward>
Tensor unary(const char* name, const Tensor& x, DerivativeFrom from, Forward forward,
             Backward backward) {
  check_defined(name, "x", x);
  Tensor y = Tensor::empty(x.shape(), x.dtype());  // (...)
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    forward(y.data<T>(), x.data<T>(), x.numel());
  });
  record_op(
      y, name, {x},
      [backward, from](const BackwardContext& ctx) -> std::vector<Tensor> {
        const Tensor& xy = from == DerivativeFrom::Output ? ctx.output : ctx.inputs[0];  // (...)
        Tensor dx = ctx.new_grad(0);                                                     // (...)
        dispatch(xy.dtype(), [&](auto tag) {
          using T = decltype(tag);
          backward(data_or_null<T>(dx), ctx.grad_output.data<T>(), xy.data<T>(), xy.numel());
        });
        return {dx};
      },
      from == DerivativeFrom::Output ? SaveOutput::Yes : SaveOutput::No);
  return y;
}

}  // namespace

Tensor exp(const Tensor& x) {
  return unary(
      "exp", x, DerivativeFrom::Output,
      [](auto* y, const auto* x, int64_t n) { exp_forward(y, x, n); },
      [](auto* dx, const auto* dy, const auto* y, int64_t n) { exp_backward(dx, dy, y, n); });
}

Tensor log(const Tensor& x) {
  return unary(
      "log", x, DerivativeFrom::Input,
      [](auto* y, const auto* x, int64_t n) { log_forward(y, x, n); },
      [](auto* dx, const auto* dy, const auto* x, int64_t n) { log_backward(dx, dy, x, n); });
}

Tensor sqrt(const Tensor& x) {
  return unary(
      "sqrt", x, DerivativeFrom::Output,
      [](auto* y, const auto* x, int64_t n) { sqrt_forward(y, x, n); },
      [](auto* dx, const auto* dy, const auto* y, int64_t n) { sqrt_backward(dx, dy, y, n); });
}

Tensor tanh(const Tensor& x) {
  return unary(
      "tanh", x, DerivativeFrom::Output,
      [](auto* y, const auto* x, int64_t n) { tanh_forward(y, x, n); },
      [](auto* dx, const auto* dy, const auto* y, int64_t n) { tanh_backward(dx, dy, y, n); });
}

Tensor relu(const Tensor& x) {
  return unary(
      "relu", x, DerivativeFrom::Input,
      [](auto* y, const auto* x, int64_t n) { relu_forward(y, x, n); },
      [](auto* dx, const auto* dy, const auto* x, int64_t n) { relu_backward(dx, dy, x, n); });
}

Tensor gelu(const Tensor& x, GeluApprox approx) {
  if (approx == GeluApprox::Erf)
    return unary(
        "gelu_erf", x, DerivativeFrom::Input,
        [](auto* y, const auto* x, int64_t n) { gelu_erf_forward(y, x, n); },
        [](auto* dx, const auto* dy, const auto* x, int64_t n) {
          gelu_erf_backward(dx, dy, x, n);
        });
  return unary(
      "gelu_tanh", x, DerivativeFrom::Input,
      [](auto* y, const auto* x, int64_t n) { gelu_tanh_forward(y, x, n); },
      [](auto* dx, const auto* dy, const auto* x, int64_t n) { gelu_tanh_backward(dx, dy, x, n); });
}

}  // namespace attnlab
