// softmax and log_softmax over the last dim. The arithmetic lives in named
// kernels (autograd/kernels/softmax.h); this file checks the argument and
// records the op.
#include <fmt/format.h>

#include <stdexcept>

#include "autograd/kernels/softmax.h"
#include "autograd/op.h"
#include "autograd/ops.h"

namespace attnlab {
namespace {

// The two ops differ only in their kernel pair. `forward(y, x, rows, c)` and
// `backward(dx, dy, y, rows, c)` are generic over the element type.
template <typename Forward, typename Backward>
Tensor row_softmax(const char* name, const Tensor& x, Forward forward, Backward backward) {
  check_defined(name, "x", x);
  if (x.dim() < 1)
    throw std::invalid_argument(
        fmt::format("{}: needs at least 1 dim, got x {}", name, shape_str(x.shape())));
  const int64_t c = x.size(-1), rows = c ? x.numel() / c : 0;
  Tensor y = Tensor::empty(x.shape(), x.dtype());  // (..., C)
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    forward(y.data<T>(), x.data<T>(), rows, c);
  });
  record_op(
      y, name, {x},
      [backward, rows, c](const BackwardContext& ctx) -> std::vector<Tensor> {
        const Tensor& dy = ctx.grad_output;                 // (..., C)
        Tensor dx = Tensor::empty(dy.shape(), dy.dtype());  // (..., C)
        dispatch(dx.dtype(), [&](auto tag) {
          using T = decltype(tag);
          backward(dx.data<T>(), dy.data<T>(), ctx.output.data<T>(), rows, c);
        });
        return {dx};
      },
      SaveOutput::Yes);  // both backwards read y
  return y;
}

}  // namespace

Tensor softmax(const Tensor& x) {
  return row_softmax(
      "softmax", x,
      [](auto* y, const auto* x, int64_t rows, int64_t c) { softmax_forward(y, x, rows, c); },
      [](auto* dx, const auto* dy, const auto* y, int64_t rows, int64_t c) {
        softmax_backward(dx, dy, y, rows, c);
      });
}

Tensor log_softmax(const Tensor& x) {
  return row_softmax(
      "log_softmax", x,
      [](auto* y, const auto* x, int64_t rows, int64_t c) { log_softmax_forward(y, x, rows, c); },
      [](auto* dx, const auto* dy, const auto* y, int64_t rows, int64_t c) {
        log_softmax_backward(dx, dy, y, rows, c);
      });
}

}  // namespace attnlab
