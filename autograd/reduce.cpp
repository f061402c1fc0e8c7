// sum and mean, over everything or over one dim. The arithmetic lives in
// named kernels (autograd/kernels/reduce.h), whose summation order is fixed
// by the shape alone, so results do not depend on threads.
#include <algorithm>

#include "autograd/kernels/reduce.h"
#include "autograd/op.h"
#include "autograd/ops.h"

namespace attnlab {
namespace {

Tensor sum_all_impl(const char* name, const Tensor& x, bool average) {
  check_defined(name, "x", x);
  Tensor out = Tensor::empty({}, x.dtype());  // ()
  const double scale = average ? 1.0 / std::max<int64_t>(x.numel(), 1) : 1.0;
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    sum_forward<T>(out.data<T>(), x.data<T>(), x.numel(), T(scale));
  });
  record_op(out, name, {x}, [scale](const BackwardContext& ctx) -> std::vector<Tensor> {
    const Tensor& dout = ctx.grad_output;  // ()
    Tensor dx = ctx.new_grad(0);           // (...)
    dispatch(dout.dtype(), [&](auto tag) {
      using T = decltype(tag);
      sum_backward<T>(data_or_null<T>(dx), dout.data<T>(), ctx.inputs[0].numel(), T(scale));
    });
    return {dx};
  });
  return out;
}

Tensor sum_dim_impl(const char* name, const Tensor& x, int64_t dim, bool keepdim, bool average) {
  check_defined(name, "x", x);
  const int64_t d = normalize_dim(name, dim, x.dim());
  int64_t outer = 1, inner = 1, n = x.size(d);
  for (int64_t i = 0; i < d; ++i) outer *= x.size(i);
  for (int64_t i = d + 1; i < x.dim(); ++i) inner *= x.size(i);
  Shape out_shape = x.shape();
  if (keepdim)
    out_shape[d] = 1;
  else
    out_shape.erase(out_shape.begin() + d);
  const double scale = average ? 1.0 / std::max<int64_t>(n, 1) : 1.0;
  Tensor out = Tensor::empty(out_shape, x.dtype());  // x's shape less dim d (1 if keepdim)
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    sum_dim_forward<T>(out.data<T>(), x.data<T>(), outer, n, inner, T(scale));
  });
  record_op(out, name, {x},
            [outer, n, inner, scale](const BackwardContext& ctx) -> std::vector<Tensor> {
              const Tensor& dout = ctx.grad_output;  // x's shape less dim d (1 if keepdim)
              Tensor dx = ctx.new_grad(0);           // (...)
              dispatch(dout.dtype(), [&](auto tag) {
                using T = decltype(tag);
                sum_dim_backward<T>(data_or_null<T>(dx), dout.data<T>(), outer, n, inner, T(scale));
              });
              return {dx};
            });
  return out;
}

}  // namespace

Tensor sum(const Tensor& x) {
  return sum_all_impl("sum", x, false);
}
Tensor mean(const Tensor& x) {
  return sum_all_impl("mean", x, true);
}
Tensor sum(const Tensor& x, int64_t dim, bool keepdim) {
  return sum_dim_impl("sum", x, dim, keepdim, false);
}
Tensor mean(const Tensor& x, int64_t dim, bool keepdim) {
  return sum_dim_impl("mean", x, dim, keepdim, true);
}

}  // namespace attnlab
