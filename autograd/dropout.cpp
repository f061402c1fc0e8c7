// Seeded dropout: the mask is a pure function of (seed, offset, i), so it is
// identical for any thread count and reproducible after a resume.
#include <fmt/format.h>

#include <stdexcept>

#include "autograd/op.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"

namespace attnlab {

Tensor dropout(const Tensor& x, double p, Generator& gen, bool training) {
  check_defined("dropout", "x", x);
  if (!(p >= 0.0 && p < 1.0))
    throw std::invalid_argument(fmt::format("dropout: p must be in [0, 1), got {}", p));
  if (!training || p == 0.0) return x;
  const uint64_t seed = gen.seed, offset = gen.offset;
  gen.offset += static_cast<uint64_t>(x.numel());
  const double scale = 1.0 / (1.0 - p);
  // The mask is recomputed in backward from (seed, offset) rather than stored.
  auto keep_scale = [seed, offset, p, scale](int64_t i) {
    return Generator::uniform(seed, offset + static_cast<uint64_t>(i)) < p ? 0.0 : scale;
  };
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    parallel_for(x.numel(), kElementwiseGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) po[i] = px[i] * T(keep_scale(i));
    });
  });
  record_grad_fn(out, "dropout", {x}, [x, keep_scale](const Tensor& g) {
    Tensor gx = grad_buffer(x);
    dispatch(g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* pg = g.data<T>();
      T* pd = gx.data<T>();
      parallel_for(g.numel(), kElementwiseGrain, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) pd[i] += pg[i] * T(keep_scale(i));
      });
    });
  });
  return out;
}

}  // namespace attnlab
