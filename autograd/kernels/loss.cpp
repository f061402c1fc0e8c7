#include "autograd/kernels/loss.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/kernels/vector_math.h"
#include "autograd/parallel.h"

namespace attnlab {
namespace {

int64_t kept_rows(const int32_t* targets, int64_t rows, int32_t ignore_index) {
  int64_t count = 0;
  for (int64_t r = 0; r < rows; ++r) count += targets[r] != ignore_index;
  return count;
}

}  // namespace

template <typename T>
void cross_entropy_forward(T* loss, T* lse, const T* logits, const int32_t* targets, int64_t rows,
                           int64_t v, int32_t ignore_index, double label_smoothing) {
  const double eps = label_smoothing;
  std::vector<double> row_loss(rows, 0.0);  // summed serially below, in row order
  parallel_for(rows, row_grain(v), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int32_t t = targets[r];
      if (t == ignore_index) {
        lse[r] = T(0);
        continue;
      }
      const T* xr = logits + r * v;
      T mx = xr[0], sum_x = 0;
#pragma omp simd reduction(max : mx)
      for (int64_t j = 0; j < v; ++j) mx = std::max(mx, xr[j]);
      T denom = 0;
#pragma omp simd reduction(+ : denom, sum_x)
      for (int64_t j = 0; j < v; ++j) {
        denom += fast_exp(xr[j] - mx);
        sum_x += xr[j];
      }
      const T l = std::log(denom) + mx;
      lse[r] = l;
      // (1-e) * (-log p_t) + e * mean_j(-log p_j)
      row_loss[r] = (1 - eps) * double(l - xr[t]) + eps * double(l - sum_x / T(v));
    }
  });
  double total = 0;
  for (double x : row_loss) total += x;
  const int64_t count = kept_rows(targets, rows, ignore_index);
  loss[0] = static_cast<T>(count ? total / double(count) : 0.0);
}

template <typename T>
void cross_entropy_backward(T* dlogits, const T* dloss, const T* logits, const T* lse,
                            const int32_t* targets, int64_t rows, int64_t v, int32_t ignore_index,
                            double label_smoothing) {
  const double eps = label_smoothing;
  const int64_t count = kept_rows(targets, rows, ignore_index);
  const T scale = count ? dloss[0] / T(count) : T(0);
  parallel_for(rows, row_grain(v), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int32_t t = targets[r];
      T* dr = dlogits + r * v;
      if (t == ignore_index) {
        std::fill(dr, dr + v, T(0));
        continue;
      }
      const T l = lse[r];
      const T* xr = logits + r * v;
      for (int64_t j = 0; j < v; ++j) {
        const T target_p = (j == t ? T(1 - eps) : T(0)) + T(eps / double(v));
        dr[j] = scale * (fast_exp(xr[j] - l) - target_p);
      }
    }
  });
}

#define ATTNLAB_INSTANTIATE(T)                                                               \
  template void cross_entropy_forward<T>(T*, T*, const T*, const int32_t*, int64_t, int64_t, \
                                         int32_t, double);                                   \
  template void cross_entropy_backward<T>(T*, const T*, const T*, const T*, const int32_t*,  \
                                          int64_t, int64_t, int32_t, double);
ATTNLAB_INSTANTIATE(float)
ATTNLAB_INSTANTIATE(double)
#undef ATTNLAB_INSTANTIATE

}  // namespace attnlab
