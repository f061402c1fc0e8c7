// cross_entropy fused with log_softmax: forward keeps each row's
// log-sum-exp so backward is softmax - target distribution in one pass.
#include <fmt/format.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "autograd/op.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"

namespace attnlab {

Tensor cross_entropy(const Tensor& logits, const IntTensor& targets, int32_t ignore_index,
                     double label_smoothing) {
  check_defined("cross_entropy", "logits", logits);
  if (logits.dim() < 1) throw std::invalid_argument("cross_entropy: logits must be (..., V)");
  Shape expect(logits.shape().begin(), logits.shape().end() - 1);
  if (targets.shape != expect || static_cast<int64_t>(targets.data.size()) != shape_numel(expect))
    throw std::invalid_argument(
        fmt::format("cross_entropy: targets must have shape {} for logits {}, got {} ({} values)",
                    shape_str(expect), shape_str(logits.shape()), shape_str(targets.shape),
                    targets.data.size()));
  if (!(label_smoothing >= 0.0 && label_smoothing <= 1.0))
    throw std::invalid_argument(
        fmt::format("cross_entropy: label_smoothing must be in [0, 1], got {}", label_smoothing));
  const int64_t v = logits.size(-1), rows = shape_numel(expect);
  int64_t count = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t t = targets.data[r];
    if (t == ignore_index) continue;
    if (t < 0 || t >= v)
      throw std::invalid_argument(
          fmt::format("cross_entropy: target {} at flat position {} is out of range for {} classes "
                      "(ignore_index is {})",
                      t, r, v, ignore_index));
    ++count;
  }
  const double eps = label_smoothing;
  auto lse = std::make_shared<std::vector<double>>(rows, 0.0);  // log-sum-exp per row
  Tensor loss = Tensor::empty({}, logits.dtype());
  dispatch(logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = logits.data<T>();
    std::vector<double> row_loss(rows, 0.0);
    parallel_for(rows, row_grain(v), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        const int32_t t = targets.data[r];
        if (t == ignore_index) continue;
        const T* xr = px + r * v;
        T mx = xr[0], sum_x = 0;
        for (int64_t j = 0; j < v; ++j) mx = std::max(mx, xr[j]);
        T denom = 0;
        for (int64_t j = 0; j < v; ++j) {
          denom += std::exp(xr[j] - mx);
          sum_x += xr[j];
        }
        const T l = std::log(denom) + mx;
        (*lse)[r] = l;
        // (1-e) * (-log p_t) + e * mean_j(-log p_j)
        row_loss[r] = (1 - eps) * double(l - xr[t]) + eps * double(l - sum_x / T(v));
      }
    });
    double total = 0;
    for (double x : row_loss) total += x;
    loss.data<T>()[0] = static_cast<T>(count ? total / double(count) : 0.0);
  });
  record_grad_fn(loss, "cross_entropy", {logits},
                 [logits, targets, lse, ignore_index, eps, v, rows, count](const Tensor& g) {
                   if (count == 0) return;
                   Tensor gx = grad_buffer(logits);
                   dispatch(g.dtype(), [&](auto tag) {
                     using T = decltype(tag);
                     const T scale = g.data<T>()[0] / T(count);
                     const T* px = logits.data<T>();
                     T* pd = gx.data<T>();
                     parallel_for(rows, row_grain(v), [&](int64_t lo, int64_t hi) {
                       for (int64_t r = lo; r < hi; ++r) {
                         const int32_t t = targets.data[r];
                         if (t == ignore_index) continue;
                         const T l = T((*lse)[r]);
                         const T* xr = px + r * v;
                         T* dr = pd + r * v;
                         for (int64_t j = 0; j < v; ++j) {
                           const T target_p = (j == t ? T(1 - eps) : T(0)) + T(eps / double(v));
                           dr[j] += scale * (std::exp(xr[j] - l) - target_p);
                         }
                       }
                     });
                   });
                 });
  return loss;
}

}  // namespace attnlab
