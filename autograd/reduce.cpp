// sum and mean, over everything or over one dim. Summation order is fixed by
// the shape alone (see parallel.h), so results do not depend on threads.
#include <fmt/format.h>

#include <vector>

#include "autograd/op.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"

namespace attnlab {
namespace {

constexpr int64_t kSumChunk = 4096;  // partial sums over fixed chunks, then in order
constexpr int64_t kColumnChunk = 256;

template <typename T>
T sum_all_kernel(const T* x, int64_t n) {
  const int64_t chunks = (n + kSumChunk - 1) / kSumChunk;
  std::vector<T> partial(chunks, T(0));
  parallel_for(chunks, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) {
      T acc = 0;
      for (int64_t i = c * kSumChunk; i < std::min(n, (c + 1) * kSumChunk); ++i) acc += x[i];
      partial[c] = acc;
    }
  });
  T total = 0;
  for (T p : partial) total += p;
  return total;
}

// x viewed as (outer, n, inner) -> out (outer, inner), scaled.
template <typename T>
void sum_dim_kernel(const T* x, int64_t outer, int64_t n, int64_t inner, T scale, T* out) {
  const int64_t col_chunks = (inner + kColumnChunk - 1) / kColumnChunk;
  // Each job sums n rows of up to kColumnChunk columns.
  parallel_for(outer * col_chunks, row_grain(n * std::min(inner, kColumnChunk)),
               [&](int64_t lo, int64_t hi) {
                 for (int64_t job = lo; job < hi; ++job) {
                   int64_t o = job / col_chunks, c0 = (job % col_chunks) * kColumnChunk;
                   int64_t c1 = std::min(inner, c0 + kColumnChunk);
                   T* dst = out + o * inner;
                   for (int64_t i = c0; i < c1; ++i) dst[i] = 0;
                   for (int64_t j = 0; j < n; ++j) {
                     const T* src = x + (o * n + j) * inner;
                     for (int64_t i = c0; i < c1; ++i) dst[i] += src[i];
                   }
                   for (int64_t i = c0; i < c1; ++i) dst[i] *= scale;
                 }
               });
}

Tensor sum_all_impl(const char* name, const Tensor& x, bool average) {
  check_defined(name, "x", x);
  Tensor out = Tensor::empty({}, x.dtype());
  const double scale = average ? 1.0 / std::max<int64_t>(x.numel(), 1) : 1.0;
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    out.data<T>()[0] = sum_all_kernel(x.data<T>(), x.numel()) * T(scale);
  });
  record_grad_fn(out, name, {x}, [x, scale](const Tensor& g) {
    Tensor gx = grad_buffer(x);
    dispatch(g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T v = g.data<T>()[0] * T(scale);
      T* pd = gx.data<T>();
      parallel_for(gx.numel(), kElementwiseGrain, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) pd[i] += v;
      });
    });
  });
  return out;
}

Tensor sum_dim_impl(const char* name, const Tensor& x, int64_t dim, bool keepdim, bool average) {
  check_defined(name, "x", x);
  const int64_t d = normalize_dim(name, dim, x.dim());
  int64_t outer = 1, inner = 1, n = x.size(d);
  for (int64_t i = 0; i < d; ++i) outer *= x.size(i);
  for (int64_t i = d + 1; i < x.dim(); ++i) inner *= x.size(i);
  Shape out_shape = x.shape();
  if (keepdim)
    out_shape[d] = 1;
  else
    out_shape.erase(out_shape.begin() + d);
  const double scale = average ? 1.0 / std::max<int64_t>(n, 1) : 1.0;
  Tensor out = Tensor::empty(out_shape, x.dtype());
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    sum_dim_kernel<T>(x.data<T>(), outer, n, inner, T(scale), out.data<T>());
  });
  record_grad_fn(out, name, {x}, [x, outer, n, inner, scale](const Tensor& g) {
    Tensor gx = grad_buffer(x);
    dispatch(g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* pg = g.data<T>();
      T* pd = gx.data<T>();
      parallel_for(outer * n, row_grain(inner), [&](int64_t lo, int64_t hi) {
        for (int64_t row = lo; row < hi; ++row) {
          const T* src = pg + (row / n) * inner;
          T* dst = pd + row * inner;
          for (int64_t i = 0; i < inner; ++i) dst[i] += src[i] * T(scale);
        }
      });
    });
  });
  return out;
}

}  // namespace

Tensor sum(const Tensor& x) {
  return sum_all_impl("sum", x, false);
}
Tensor mean(const Tensor& x) {
  return sum_all_impl("mean", x, true);
}
Tensor sum(const Tensor& x, int64_t dim, bool keepdim) {
  return sum_dim_impl("sum", x, dim, keepdim, false);
}
Tensor mean(const Tensor& x, int64_t dim, bool keepdim) {
  return sum_dim_impl("mean", x, dim, keepdim, true);
}

}  // namespace attnlab
