#include "autograd/kernels/norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/parallel.h"

namespace attnlab {
namespace {

// Rows per chunk for the gamma/beta gradient: chunk partials are summed in
// chunk order afterwards, so the result is independent of the thread count.
constexpr int64_t kNormRowChunk = 32;

// Both norms in one body: `mean` null means RMSNorm (no centring).
template <typename T>
void norm_forward(T* y, T* mean, T* rstd, const T* x, const T* gamma, const T* beta, int64_t rows,
                  int64_t c, T eps) {
  parallel_for(rows, row_grain(c), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const T* xr = x + r * c;
      T* yr = y + r * c;
      T mu = 0;
      if (mean) {
        for (int64_t j = 0; j < c; ++j) mu += xr[j];
        mu /= T(c);
      }
      T ms = 0;
      for (int64_t j = 0; j < c; ++j) ms += (xr[j] - mu) * (xr[j] - mu);
      const T rs = T(1) / std::sqrt(ms / T(c) + eps);
      for (int64_t j = 0; j < c; ++j)
        yr[j] = (xr[j] - mu) * rs * gamma[j] + (beta ? beta[j] : T(0));
      if (mean) mean[r] = mu;
      rstd[r] = rs;
    }
  });
}

// dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) with
// dxhat = dy * gamma; RMSNorm (mean null) drops the mean(dxhat) term.
template <typename T>
void norm_backward(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x, const T* gamma,
                   const T* mean, const T* rstd, int64_t rows, int64_t c) {
  const int64_t chunks = (rows + kNormRowChunk - 1) / kNormRowChunk;
  // Per-chunk partial sums of dy*xhat (gamma) and dy (beta).
  std::vector<T> part_gamma(dgamma ? chunks * c : 0, T(0));
  std::vector<T> part_beta(dbeta ? chunks * c : 0, T(0));
  parallel_for(
      chunks, std::max<int64_t>(1, row_grain(c) / kNormRowChunk), [&](int64_t lo, int64_t hi) {
        for (int64_t ch = lo; ch < hi; ++ch) {
          for (int64_t r = ch * kNormRowChunk; r < std::min(rows, (ch + 1) * kNormRowChunk); ++r) {
            const T *xr = x + r * c, *gr = dy + r * c;
            const T mu = mean ? mean[r] : T(0), rs = rstd[r];
            if (dgamma)
              for (int64_t j = 0; j < c; ++j) part_gamma[ch * c + j] += gr[j] * (xr[j] - mu) * rs;
            if (dbeta)
              for (int64_t j = 0; j < c; ++j) part_beta[ch * c + j] += gr[j];
            if (!dx) continue;
            T mean_d = 0, mean_dx = 0;
            for (int64_t j = 0; j < c; ++j) {
              const T dxhat = gr[j] * gamma[j];
              mean_d += dxhat;
              mean_dx += dxhat * (xr[j] - mu) * rs;
            }
            mean_d = mean ? mean_d / T(c) : T(0);
            mean_dx /= T(c);
            T* dr = dx + r * c;
            for (int64_t j = 0; j < c; ++j)
              dr[j] = rs * (gr[j] * gamma[j] - mean_d - (xr[j] - mu) * rs * mean_dx);
          }
        }
      });
  if (dgamma) std::fill(dgamma, dgamma + c, T(0));
  if (dbeta) std::fill(dbeta, dbeta + c, T(0));
  for (int64_t ch = 0; ch < chunks; ++ch) {
    if (dgamma)
      for (int64_t j = 0; j < c; ++j) dgamma[j] += part_gamma[ch * c + j];
    if (dbeta)
      for (int64_t j = 0; j < c; ++j) dbeta[j] += part_beta[ch * c + j];
  }
}

}  // namespace

template <typename T>
void layernorm_forward(T* y, T* mean, T* rstd, const T* x, const T* gamma, const T* beta,
                       int64_t rows, int64_t c, T eps) {
  norm_forward(y, mean, rstd, x, gamma, beta, rows, c, eps);
}
template <typename T>
void layernorm_backward(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x, const T* gamma,
                        const T* mean, const T* rstd, int64_t rows, int64_t c) {
  norm_backward(dx, dgamma, dbeta, dy, x, gamma, mean, rstd, rows, c);
}
template <typename T>
void rmsnorm_forward(T* y, T* rstd, const T* x, const T* gamma, int64_t rows, int64_t c, T eps) {
  norm_forward<T>(y, nullptr, rstd, x, gamma, nullptr, rows, c, eps);
}
template <typename T>
void rmsnorm_backward(T* dx, T* dgamma, const T* dy, const T* x, const T* gamma, const T* rstd,
                      int64_t rows, int64_t c) {
  norm_backward<T>(dx, dgamma, nullptr, dy, x, gamma, nullptr, rstd, rows, c);
}

#define ATTNLAB_INSTANTIATE(T)                                                                   \
  template void layernorm_forward<T>(T*, T*, T*, const T*, const T*, const T*, int64_t, int64_t, \
                                     T);                                                         \
  template void layernorm_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*,        \
                                      const T*, int64_t, int64_t);                               \
  template void rmsnorm_forward<T>(T*, T*, const T*, const T*, int64_t, int64_t, T);             \
  template void rmsnorm_backward<T>(T*, T*, const T*, const T*, const T*, const T*, int64_t,     \
                                    int64_t);
ATTNLAB_INSTANTIATE(float)
ATTNLAB_INSTANTIATE(double)
#undef ATTNLAB_INSTANTIATE

}  // namespace attnlab
