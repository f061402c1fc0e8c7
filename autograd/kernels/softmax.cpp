#include "autograd/kernels/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "autograd/kernels/vector_math.h"
#include "autograd/parallel.h"

namespace attnlab {
namespace {

template <typename T>
void row_softmax(T* y, const T* x, int64_t c, bool log_space) {
  const T neg_inf = -std::numeric_limits<T>::infinity();
  // The reductions are vectorised (omp simd): a fixed lane order per build,
  // the same for any thread count.
  T mx = neg_inf;
#pragma omp simd reduction(max : mx)
  for (int64_t j = 0; j < c; ++j) mx = std::max(mx, x[j]);
  // OpenMP starts each lane of a max reduction at the type's lowest finite
  // value, not at -inf (clang does; GCC happens not to), so a row of -inf
  // reduces to `lowest`. Such rare rows get an exact serial maximum.
  if (mx <= std::numeric_limits<T>::lowest()) {
    mx = neg_inf;
    for (int64_t j = 0; j < c; ++j) mx = std::max(mx, x[j]);
  }
  if (mx == neg_inf) {  // every entry blocked, or NaN (which max skips)
    bool nan = false;
    for (int64_t j = 0; j < c; ++j) nan = nan || x[j] != x[j];
    const T fill = nan ? std::numeric_limits<T>::quiet_NaN() : log_space ? neg_inf : T(0);
    for (int64_t j = 0; j < c; ++j) y[j] = fill;
    return;
  }
  T denom = 0;
  if (log_space) {
#pragma omp simd reduction(+ : denom)
    for (int64_t j = 0; j < c; ++j) denom += fast_exp(x[j] - mx);
    const T log_denom = std::log(denom) + mx;
    for (int64_t j = 0; j < c; ++j) y[j] = x[j] - log_denom;
  } else {
#pragma omp simd reduction(+ : denom)
    for (int64_t j = 0; j < c; ++j) {
      y[j] = fast_exp(x[j] - mx);
      denom += y[j];
    }
    const T inv = T(1) / denom;
    for (int64_t j = 0; j < c; ++j) y[j] *= inv;
  }
}

}  // namespace

template <typename T>
void softmax_row(T* y, const T* x, int64_t c) {
  row_softmax(y, x, c, false);
}

template <typename T>
void softmax_backward_row(T* dx, const T* dy, const T* y, int64_t c) {
  T dot = 0;
#pragma omp simd reduction(+ : dot)
  for (int64_t j = 0; j < c; ++j) dot += dy[j] * y[j];
  for (int64_t j = 0; j < c; ++j) dx[j] = y[j] * (dy[j] - dot);
}

template <typename T>
void softmax_forward(T* y, const T* x, int64_t rows, int64_t c) {
  parallel_rows(rows, c, [&](int64_t r) { softmax_row(y + r * c, x + r * c, c); });
}

template <typename T>
void softmax_backward(T* dx, const T* dy, const T* y, int64_t rows, int64_t c) {
  parallel_rows(rows, c,
                [&](int64_t r) { softmax_backward_row(dx + r * c, dy + r * c, y + r * c, c); });
}

template <typename T>
void log_softmax_forward(T* y, const T* x, int64_t rows, int64_t c) {
  parallel_rows(rows, c, [&](int64_t r) { row_softmax(y + r * c, x + r * c, c, true); });
}

template <typename T>
void log_softmax_backward(T* dx, const T* dy, const T* y, int64_t rows, int64_t c) {
  parallel_rows(rows, c, [&](int64_t r) {
    const T *yr = y + r * c, *gr = dy + r * c;
    T total = 0;
#pragma omp simd reduction(+ : total)
    for (int64_t j = 0; j < c; ++j) total += gr[j];
    for (int64_t j = 0; j < c; ++j) dx[r * c + j] = gr[j] - fast_exp(yr[j]) * total;
  });
}

#define ATTNLAB_INSTANTIATE(T)                                                 \
  template void softmax_row<T>(T*, const T*, int64_t);                         \
  template void softmax_backward_row<T>(T*, const T*, const T*, int64_t);      \
  template void softmax_forward<T>(T*, const T*, int64_t, int64_t);            \
  template void softmax_backward<T>(T*, const T*, const T*, int64_t, int64_t); \
  template void log_softmax_forward<T>(T*, const T*, int64_t, int64_t);        \
  template void log_softmax_backward<T>(T*, const T*, const T*, int64_t, int64_t);
ATTNLAB_INSTANTIATE(float)
ATTNLAB_INSTANTIATE(double)
#undef ATTNLAB_INSTANTIATE

}  // namespace attnlab
