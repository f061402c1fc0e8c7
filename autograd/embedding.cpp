// embedding: gather rows of the table; backward scatter-adds into them.
#include <fmt/format.h>

#include <cstring>
#include <stdexcept>

#include "autograd/op.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"

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
    const T* w = weight.data<T>();
    T* o = out.data<T>();
    parallel_for(n, row_grain(c), [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) std::memcpy(o + i * c, w + ids.data[i] * c, sizeof(T) * c);
    });
  });
  record_grad_fn(out, "embedding", {weight}, [weight, ids, c, n](const Tensor& g) {
    Tensor gw = grad_buffer(weight);
    dispatch(g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* pg = g.data<T>();
      T* pw = gw.data<T>();
      // Parallel over column blocks: every thread walks the ids in order, so
      // repeated ids accumulate in the same order for any thread count.
      constexpr int64_t kCols = 64;
      parallel_for((c + kCols - 1) / kCols, 1, [&](int64_t lo, int64_t hi) {
        const int64_t c0 = lo * kCols, c1 = std::min(c, hi * kCols);
        for (int64_t i = 0; i < n; ++i) {
          T* dst = pw + ids.data[i] * c;
          const T* src = pg + i * c;
          for (int64_t j = c0; j < c1; ++j) dst[j] += src[j];
        }
      });
    });
  });
  return out;
}

}  // namespace attnlab
