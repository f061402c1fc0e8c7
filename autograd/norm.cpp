// layer_norm and rms_norm over the last dim. The arithmetic lives in named
// kernels (autograd/kernels/norm.h); the forward saves per-row statistics
// (mean, 1/std) that the backward reuses, as in llm.c.
#include <fmt/format.h>

#include <stdexcept>

#include "autograd/kernels/norm.h"
#include "autograd/op.h"
#include "autograd/ops.h"

namespace attnlab {
namespace {

void check_norm_args(const char* op, const Tensor& x, const Tensor& gamma, const Tensor& beta) {
  check_defined(op, "x", x);
  check_defined(op, "gamma", gamma);
  if (x.dim() < 1 || gamma.dim() != 1 || gamma.size(0) != x.size(-1))
    throw std::invalid_argument(
        fmt::format("{}: expected x (..., C) and gamma (C), got x {} and gamma {}", op,
                    shape_str(x.shape()), shape_str(gamma.shape())));
  check_same_dtype(op, x, gamma);
  if (beta.defined()) {
    if (beta.shape() != gamma.shape())
      throw std::invalid_argument(fmt::format("{}: expected beta ({}), got {}", op, gamma.size(0),
                                              shape_str(beta.shape())));
    check_same_dtype(op, x, beta);
  }
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  check_norm_args("layer_norm", x, gamma, beta);
  const int64_t c = x.size(-1), rows = c ? x.numel() / c : 0;
  Tensor y = Tensor::empty(x.shape(), x.dtype());  // (..., C)
  Tensor mean = Tensor::empty({rows}, x.dtype());  // (N)
  Tensor rstd = Tensor::empty({rows}, x.dtype());  // (N)
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    layernorm_forward<T>(y.data<T>(), mean.data<T>(), rstd.data<T>(), x.data<T>(), gamma.data<T>(),
                         data_or_null<T>(beta), rows, c, T(eps));
  });
  record_op(y, "layer_norm", {x, gamma, beta},
            [mean, rstd, rows, c](const BackwardContext& ctx) -> std::vector<Tensor> {
              const Tensor &x = ctx.inputs[0], &gamma = ctx.inputs[1];
              Tensor dx = ctx.new_grad(0);      // (..., C)
              Tensor dgamma = ctx.new_grad(1);  // (C)
              Tensor dbeta = ctx.new_grad(2);   // (C)
              dispatch(x.dtype(), [&](auto tag) {
                using T = decltype(tag);
                layernorm_backward<T>(data_or_null<T>(dx), data_or_null<T>(dgamma),
                                      data_or_null<T>(dbeta), ctx.grad_output.data<T>(),
                                      x.data<T>(), gamma.data<T>(), mean.data<T>(), rstd.data<T>(),
                                      rows, c);
              });
              return {dx, dgamma, dbeta};
            });
  return y;
}

Tensor rms_norm(const Tensor& x, const Tensor& gamma, double eps) {
  check_norm_args("rms_norm", x, gamma, Tensor());
  const int64_t c = x.size(-1), rows = c ? x.numel() / c : 0;
  Tensor y = Tensor::empty(x.shape(), x.dtype());  // (..., C)
  Tensor rstd = Tensor::empty({rows}, x.dtype());  // (N)
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    rmsnorm_forward<T>(y.data<T>(), rstd.data<T>(), x.data<T>(), gamma.data<T>(), rows, c, T(eps));
  });
  record_op(y, "rms_norm", {x, gamma},
            [rstd, rows, c](const BackwardContext& ctx) -> std::vector<Tensor> {
              const Tensor &x = ctx.inputs[0], &gamma = ctx.inputs[1];
              Tensor dx = ctx.new_grad(0);      // (..., C)
              Tensor dgamma = ctx.new_grad(1);  // (C)
              dispatch(x.dtype(), [&](auto tag) {
                using T = decltype(tag);
                rmsnorm_backward<T>(data_or_null<T>(dx), data_or_null<T>(dgamma),
                                    ctx.grad_output.data<T>(), x.data<T>(), gamma.data<T>(),
                                    rstd.data<T>(), rows, c);
              });
              return {dx, dgamma};
            });
  return y;
}

}  // namespace attnlab
