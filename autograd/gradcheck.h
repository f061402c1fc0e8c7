// Float64 gradient checking: analytic gradients from backward() against
// central finite differences, with PyTorch's default tolerances.
//
// A non-scalar output y is reduced to L = sum(y * R) with a fixed random R, so
// one backward pass (seeded with R) checks J^T R, which any wrong Jacobian
// entry perturbs.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "autograd/tensor.h"

namespace attnlab {

struct GradCheckOptions {
  double eps = 1e-6;   // finite-difference step
  double atol = 1e-5;  // pass when |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-3;
  uint64_t seed = 1234;  // for the projection R
};

struct GradCheckResult {
  bool passed = true;
  double max_abs_error = 0;  // over every checked element
  double max_rel_error = 0;  // over elements with |numeric| > atol
  int64_t checked = 0;       // elements compared
  std::string worst;         // where the worst element is, with both values
};

using GradCheckFn = std::function<Tensor(const std::vector<Tensor>& inputs)>;

// Every input must be float64; those that require grad are checked. fn must
// be deterministic (recreate any Generator inside it). Throws
// std::runtime_error if a value or gradient is NaN/inf, naming where.
GradCheckResult gradcheck(const GradCheckFn& fn, const std::vector<Tensor>& inputs,
                          const GradCheckOptions& options = {});

// A named check in the `attnlab gradcheck` suite.
struct GradCheckCase {
  std::string name;    // "matmul/batched_nt"
  std::string shapes;  // human description of the inputs, e.g. "a (2,3,4), b (2,5,4)"
  std::function<GradCheckResult()> run;
};

// The op-level cases (autograd/gradcheck_ops.cpp); layers and models add theirs.
std::vector<GradCheckCase> op_gradcheck_cases();

// Float64 leaf with values uniform in [lo, hi) from `seed`, requiring grad.
Tensor gradcheck_input(const Shape& shape, uint64_t seed, double lo = -1.0, double hi = 1.0);

}  // namespace attnlab
