#include "autograd/gradcheck.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

#include "autograd/ops.h"
#include "autograd/random.h"

namespace attnlab {
namespace {

// L = sum(y * R) evaluated without recording a graph.
double projected(const GradCheckFn& fn, const std::vector<Tensor>& inputs, const Tensor& r) {
  NoGradGuard no_grad;
  Tensor y = fn(inputs);
  if (y.shape() != r.shape())
    throw std::runtime_error(
        fmt::format("gradcheck: the function's output changed shape from {} to {}",
                    shape_str(r.shape()), shape_str(y.shape())));
  const double* py = y.data<double>();
  const double* pr = r.data<double>();
  double total = 0;
  for (int64_t i = 0; i < y.numel(); ++i) total += py[i] * pr[i];
  return total;
}

}  // namespace

Tensor gradcheck_input(const Shape& shape, uint64_t seed, double lo, double hi) {
  Generator gen{seed, 0};
  Tensor t = rand_uniform(shape, gen, lo, hi, DType::F64);
  t.set_requires_grad(true);
  return t;
}

GradCheckResult gradcheck(const GradCheckFn& fn, const std::vector<Tensor>& inputs,
                          const GradCheckOptions& opt) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined())
      throw std::invalid_argument(fmt::format("gradcheck: input {} is undefined", i));
    if (inputs[i].dtype() != DType::F64)
      throw std::invalid_argument(
          fmt::format("gradcheck: input {} is {}; gradient checks need float64 inputs", i,
                      inputs[i].describe()));
    inputs[i].impl()->grad.reset();
  }
  Tensor y = fn(inputs);
  if (y.dtype() != DType::F64)
    throw std::invalid_argument(
        fmt::format("gradcheck: output is {}, expected float64", y.describe()));
  Generator gen{opt.seed, 0};
  Tensor r = y.numel() == 1 ? Tensor::full(y.shape(), 1.0, DType::F64)
                            : rand_uniform(y.shape(), gen, -1.0, 1.0, DType::F64);
  if (y.requires_grad()) y.backward(r);

  GradCheckResult res;
  double worst_excess = -1;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.requires_grad()) continue;
    Tensor analytic = x.grad();  // undefined means the output does not depend on x
    double* px = x.data<double>();
    for (int64_t k = 0; k < x.numel(); ++k) {
      const double saved = px[k];
      px[k] = saved + opt.eps;
      const double plus = projected(fn, inputs, r);
      px[k] = saved - opt.eps;
      const double minus = projected(fn, inputs, r);
      px[k] = saved;
      const double numeric = (plus - minus) / (2 * opt.eps);
      const double a = analytic.defined() ? analytic.data<double>()[k] : 0.0;
      if (!std::isfinite(numeric) || !std::isfinite(a))
        throw std::runtime_error(fmt::format(
            "gradcheck: non-finite gradient at input {} {} element {}: analytic {} numeric {}", i,
            shape_str(x.shape()), k, a, numeric));
      const double err = std::abs(a - numeric);
      res.max_abs_error = std::max(res.max_abs_error, err);
      if (std::abs(numeric) > opt.atol)
        res.max_rel_error = std::max(res.max_rel_error, err / std::abs(numeric));
      const double excess = err - (opt.atol + opt.rtol * std::abs(numeric));
      if (excess > 0) res.passed = false;
      if (excess > worst_excess) {
        worst_excess = excess;
        res.worst = fmt::format("input {} {} element {}: analytic {:.8g} numeric {:.8g}", i,
                                shape_str(x.shape()), k, a, numeric);
      }
      ++res.checked;
    }
  }
  return res;
}

}  // namespace attnlab
