// masked_fill and the causal mask. See ops.h for the mask convention
// (1 = blocked).
#include <fmt/format.h>

#include <stdexcept>

#include "autograd/broadcast.h"
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
  auto sx = broadcast_strides(x.shape(), x.shape());
  auto sm = broadcast_strides(mask.shape, x.shape());
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  const uint8_t* blocked = mask.blocked.data();
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    const T fill = static_cast<T>(value);
    broadcast_for_each(x.shape(), sx, sm, [&](int64_t o, int64_t ix, int64_t im) {
      po[o] = blocked[im] ? fill : px[ix];
    });
  });
  record_grad_fn(out, "masked_fill", {x}, [x, mask, sx, sm](const Tensor& g) {
    Tensor gx = grad_buffer(x);
    const uint8_t* blocked = mask.blocked.data();
    dispatch(g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* pg = g.data<T>();
      T* pd = gx.data<T>();
      broadcast_for_each(x.shape(), sx, sm, [&](int64_t o, int64_t, int64_t im) {
        if (!blocked[im]) pd[o] += pg[o];
      });
    });
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
