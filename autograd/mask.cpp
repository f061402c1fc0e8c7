// masked_fill and the causal mask. See ops.h for the mask convention
// (1 = blocked). The arithmetic lives in named kernels
// (autograd/kernels/mask.h); this file checks the arguments and records the
// op.
#include <fmt/format.h>

#include <stdexcept>

#include "autograd/kernels/mask.h"
#include "autograd/op.h"
#include "autograd/ops.h"

namespace attnlab {

Tensor masked_fill(const Tensor& x, const Mask& mask, double value) {
  check_defined("masked_fill", "x", x);
  if (static_cast<int64_t>(mask.blocked.size()) != shape_numel(mask.shape))
    throw std::invalid_argument(fmt::format("masked_fill: mask has {} values for shape {}",
                                            mask.blocked.size(), shape_str(mask.shape)));
  bool fits = mask.shape.size() <= x.shape().size();
  for (size_t k = 0; fits && k < mask.shape.size(); ++k) {
    int64_t m = mask.shape[mask.shape.size() - 1 - k], d = x.shape()[x.shape().size() - 1 - k];
    fits = m == 1 || m == d;
  }
  if (!fits)
    throw std::invalid_argument(
        fmt::format("masked_fill: mask of shape {} does not broadcast to the tensor's shape {}",
                    shape_str(mask.shape), shape_str(x.shape())));
  Tensor out = Tensor::empty(x.shape(), x.dtype());  // (...)
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    masked_fill_forward<T>(out.data<T>(), x.data<T>(), mask.blocked.data(), x.shape(), mask.shape,
                           static_cast<T>(value));
  });
  record_op(out, "masked_fill", {x}, [mask](const BackwardContext& ctx) -> std::vector<Tensor> {
    const Tensor& dout = ctx.grad_output;  // (...)
    Tensor dx = ctx.new_grad(0);           // (...)
    dispatch(dout.dtype(), [&](auto tag) {
      using T = decltype(tag);
      masked_fill_backward<T>(data_or_null<T>(dx), dout.data<T>(), mask.blocked.data(),
                              dout.shape(), mask.shape);
    });
    return {dx};
  });
  return out;
}

Mask causal_mask(int64_t tq, int64_t tk) {
  if (tq < 0 || tk < tq)
    throw std::invalid_argument(fmt::format(
        "causal_mask: needs 0 <= Tq <= Tk (queries are the last Tq of Tk positions), got Tq={} "
        "Tk={}",
        tq, tk));
  Mask m{{tq, tk}, std::vector<uint8_t>(tq * tk, 0)};
  const int64_t shift = tk - tq;
  for (int64_t i = 0; i < tq; ++i)
    for (int64_t j = i + shift + 1; j < tk; ++j) m.blocked[i * tk + j] = 1;
  return m;
}

}  // namespace attnlab
