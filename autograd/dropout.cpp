// Seeded dropout: the mask is a pure function of (seed, offset, i), so it is
// identical for any thread count and reproducible after a resume. The
// arithmetic lives in named kernels (autograd/kernels/dropout.h); this file
// checks the arguments, advances the generator and records the op.
#include <fmt/format.h>

#include <stdexcept>

#include "autograd/kernels/dropout.h"
#include "autograd/op.h"
#include "autograd/ops.h"

namespace attnlab {

Tensor dropout(const Tensor& x, double p, Generator& gen, bool training) {
  check_defined("dropout", "x", x);
  if (!(p >= 0.0 && p < 1.0))
    throw std::invalid_argument(fmt::format("dropout: p must be in [0, 1), got {}", p));
  if (!training || p == 0.0) return x;
  const uint64_t seed = gen.seed, offset = gen.offset;
  gen.offset += static_cast<uint64_t>(x.numel());
  Tensor y = Tensor::empty(x.shape(), x.dtype());  // (...)
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    dropout_forward<T>(y.data<T>(), x.data<T>(), x.numel(), p, seed, offset);
  });
  // The backward recomputes the mask from (seed, offset) rather than storing it.
  record_op(y, "dropout", {x},
            [p, seed, offset](const BackwardContext& ctx) -> std::vector<Tensor> {
              const Tensor& dy = ctx.grad_output;  // (...)
              Tensor dx = ctx.new_grad(0);         // (...)
              dispatch(dy.dtype(), [&](auto tag) {
                using T = decltype(tag);
                dropout_backward<T>(data_or_null<T>(dx), dy.data<T>(), dy.numel(), p, seed, offset);
              });
              return {dx};
            });
  return y;
}

}  // namespace attnlab
