// cross_entropy fused with log_softmax: forward keeps each row's
// log-sum-exp so backward is softmax - target distribution in one pass. The
// arithmetic lives in named kernels (autograd/kernels/loss.h); this file
// checks the arguments and records the op.
#include <fmt/format.h>

#include <stdexcept>

#include "autograd/kernels/loss.h"
#include "autograd/op.h"
#include "autograd/ops.h"

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
  Tensor loss = Tensor::empty({}, logits.dtype());     // ()
  Tensor lse = Tensor::empty({rows}, logits.dtype());  // (N): reused by the backward
  dispatch(logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    cross_entropy_forward<T>(loss.data<T>(), lse.data<T>(), logits.data<T>(), targets.data.data(),
                             rows, v, ignore_index, label_smoothing);
  });
  // The targets are not a Tensor input, so the backward keeps its own copy.
  record_op(loss, "cross_entropy", {logits},
            [lse, targets = targets.data, ignore_index, label_smoothing, v, rows,
             count](const BackwardContext& ctx) -> std::vector<Tensor> {
              // Every target ignored: the loss is constant in the logits.
              if (count == 0) return {Tensor()};
              const Tensor& logits = ctx.inputs[0];
              Tensor dlogits = ctx.new_grad(0);  // (..., V)
              dispatch(logits.dtype(), [&](auto tag) {
                using T = decltype(tag);
                cross_entropy_backward<T>(dlogits.data<T>(), ctx.grad_output.data<T>(),
                                          logits.data<T>(), lse.data<T>(), targets.data(), rows, v,
                                          ignore_index, label_smoothing);
              });
              return {dlogits};
            });
  return loss;
}

}  // namespace attnlab
