// softmax and log_softmax over the last dim, numerically stable (max
// subtracted), forward and backward side by side.
#include <cmath>
#include <limits>

#include "autograd/ops.h"
#include "autograd/parallel.h"

namespace attnlab {
namespace {

// One row of C values. A row whose max is -inf has every key blocked: its
// softmax is defined as all zeros (log_softmax: all -inf) instead of NaN.
template <typename T>
void softmax_row(const T* x, T* y, int64_t c, bool log_space) {
  T mx = -std::numeric_limits<T>::infinity();
  for (int64_t j = 0; j < c; ++j) mx = std::max(mx, x[j]);
  if (mx == -std::numeric_limits<T>::infinity()) {
    for (int64_t j = 0; j < c; ++j) y[j] = log_space ? mx : T(0);
    return;
  }
  T denom = 0;
  for (int64_t j = 0; j < c; ++j) denom += std::exp(x[j] - mx);
  if (log_space) {
    const T log_denom = std::log(denom) + mx;
    for (int64_t j = 0; j < c; ++j) y[j] = x[j] - log_denom;
  } else {
    const T inv = T(1) / denom;
    for (int64_t j = 0; j < c; ++j) y[j] = std::exp(x[j] - mx) * inv;
  }
}

Tensor softmax_impl(const char* name, const Tensor& x, bool log_space) {
  check_defined(name, "x", x);
  if (x.dim() < 1) throw std::invalid_argument(std::string(name) + ": needs at least 1 dim");
  const int64_t c = x.size(-1), rows = c ? x.numel() / c : 0;
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    parallel_for(rows, row_grain(c), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) softmax_row(px + r * c, py + r * c, c, log_space);
    });
  });
  Tensor y_saved = y.detach();
  record_grad_fn(y, name, {x}, [x, y_saved, c, rows, log_space](const Tensor& g) {
    Tensor gx = grad_buffer(x);
    dispatch(g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* py = y_saved.data<T>();
      const T* pg = g.data<T>();
      T* pd = gx.data<T>();
      parallel_for(rows, row_grain(c), [&](int64_t lo, int64_t hi) {
        for (int64_t r = lo; r < hi; ++r) {
          const T *yr = py + r * c, *gr = pg + r * c;
          T* dr = pd + r * c;
          T dot = 0;
          if (log_space) {  // dx = g - softmax * sum(g)
            for (int64_t j = 0; j < c; ++j) dot += gr[j];
            for (int64_t j = 0; j < c; ++j) dr[j] += gr[j] - std::exp(yr[j]) * dot;
          } else {  // dx = y * (g - <g, y>)
            for (int64_t j = 0; j < c; ++j) dot += gr[j] * yr[j];
            for (int64_t j = 0; j < c; ++j) dr[j] += yr[j] * (gr[j] - dot);
          }
        }
      });
    });
  });
  return y;
}

}  // namespace

Tensor softmax(const Tensor& x) {
  return softmax_impl("softmax", x, false);
}
Tensor log_softmax(const Tensor& x) {
  return softmax_impl("log_softmax", x, true);
}

}  // namespace attnlab
