// embedding: gather rows of the table; backward scatter-adds into them. The
// arithmetic lives in named kernels (autograd/kernels/embedding.h); this file
// checks the arguments and records the op.
#include <fmt/format.h>

#include <stdexcept>

#include "autograd/kernels/embedding.h"
#include "autograd/op.h"
#include "autograd/ops.h"

namespace attnlab {

Tensor embedding(const Tensor& weight, const IntTensor& ids) {
  check_defined("embedding", "weight", weight);
  if (weight.dim() != 2)
    throw std::invalid_argument(
        fmt::format("embedding: weight must be (V,C), got {}", shape_str(weight.shape())));
  const int64_t vocab = weight.size(0), c = weight.size(1);
  const int64_t n = static_cast<int64_t>(ids.data.size());
  if (n != shape_numel(ids.shape))
    throw std::invalid_argument(
        fmt::format("embedding: ids has {} values for shape {}", n, shape_str(ids.shape)));
  for (int64_t i = 0; i < n; ++i)
    if (ids.data[i] < 0 || ids.data[i] >= vocab)
      throw std::invalid_argument(fmt::format(
          "embedding: id {} at flat position {} of ids {} is out of range for a table of {} rows",
          ids.data[i], i, shape_str(ids.shape), vocab));
  Shape out_shape = ids.shape;
  out_shape.push_back(c);
  Tensor out = Tensor::empty(out_shape, weight.dtype());  // (S..., C)
  dispatch(weight.dtype(), [&](auto tag) {
    using T = decltype(tag);
    embedding_forward<T>(out.data<T>(), weight.data<T>(), ids.data.data(), n, c);
  });
  // The ids are not a Tensor input, so the backward keeps its own copy.
  record_op(out, "embedding", {weight},
            [ids = ids.data, n, c](const BackwardContext& ctx) -> std::vector<Tensor> {
              // Zeroed: the kernel scatter-adds, and rows no id picks get no gradient.
              Tensor dweight = ctx.new_zero_grad(0);  // (V,C)
              dispatch(dweight.dtype(), [&](auto tag) {
                using T = decltype(tag);
                embedding_backward<T>(dweight.data<T>(), ctx.grad_output.data<T>(), ids.data(), n,
                                      c);
              });
              return {dweight};
            });
  return out;
}

}  // namespace attnlab
