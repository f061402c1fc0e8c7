// Fused layer_norm and rms_norm over the last dim. Forward saves the per-row
// statistics (mean, 1/std) that backward reuses, as in llm.c.
#include <fmt/format.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "autograd/ops.h"
#include "autograd/parallel.h"

namespace attnlab {
namespace {

// Rows per chunk for the gamma/beta gradient: chunk partials are summed in
// chunk order afterwards, so the result is independent of the thread count.
constexpr int64_t kNormRowChunk = 32;

void check_norm_args(const char* op, const Tensor& x, const Tensor& gamma, const Tensor& beta) {
  check_defined(op, "x", x);
  check_defined(op, "gamma", gamma);
  if (x.dim() < 1 || gamma.dim() != 1 || gamma.size(0) != x.size(-1))
    throw std::invalid_argument(
        fmt::format("{}: expected x (..., C) and gamma (C), got x {} and gamma {}", op,
                    shape_str(x.shape()), shape_str(gamma.shape())));
  check_same_dtype(op, x, gamma);
  if (beta.defined()) {
    if (beta.shape() != gamma.shape())
      throw std::invalid_argument(fmt::format("{}: expected beta ({}), got {}", op, gamma.size(0),
                                              shape_str(beta.shape())));
    check_same_dtype(op, x, beta);
  }
}

// Shared by both norms. `center` selects LayerNorm (subtract the mean) over
// RMSNorm. Per row: xhat = (x - mu) * rstd, y = xhat * gamma (+ beta).
Tensor norm_impl(const char* op, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                 double eps, bool center) {
  check_norm_args(op, x, gamma, beta);
  const int64_t c = x.size(-1), rows = c ? x.numel() / c : 0;
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  auto stats = std::make_shared<std::vector<double>>(2 * rows);  // (mu, rstd) per row
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T *px = x.data<T>(), *pgm = gamma.data<T>();
    const T* pb = beta.defined() ? beta.data<T>() : nullptr;
    T* py = y.data<T>();
    parallel_for(rows, row_grain(c), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        const T* xr = px + r * c;
        T* yr = py + r * c;
        T mu = 0;
        if (center) {
          for (int64_t j = 0; j < c; ++j) mu += xr[j];
          mu /= T(c);
        }
        T ms = 0;
        for (int64_t j = 0; j < c; ++j) ms += (xr[j] - mu) * (xr[j] - mu);
        const T rstd = T(1) / std::sqrt(ms / T(c) + T(eps));
        for (int64_t j = 0; j < c; ++j) yr[j] = (xr[j] - mu) * rstd * pgm[j] + (pb ? pb[j] : T(0));
        (*stats)[2 * r] = mu;
        (*stats)[2 * r + 1] = rstd;
      }
    });
  });
  record_grad_fn(
      y, op, {x, gamma, beta}, [x, gamma, beta, stats, c, rows, center](const Tensor& g) {
        Tensor gx = grad_buffer(x), ggamma = grad_buffer(gamma), gbeta = grad_buffer(beta);
        dispatch(g.dtype(), [&](auto tag) {
          using T = decltype(tag);
          const T *px = x.data<T>(), *pgm = gamma.data<T>(), *pg = g.data<T>();
          const int64_t chunks = (rows + kNormRowChunk - 1) / kNormRowChunk;
          // Per-chunk partial sums of g*xhat (gamma) and g (beta).
          std::vector<T> part_gamma(ggamma.defined() ? chunks * c : 0, T(0));
          std::vector<T> part_beta(gbeta.defined() ? chunks * c : 0, T(0));
          parallel_for(chunks, std::max<int64_t>(1, row_grain(c) / kNormRowChunk),
                       [&](int64_t lo, int64_t hi) {
                         for (int64_t ch = lo; ch < hi; ++ch) {
                           for (int64_t r = ch * kNormRowChunk;
                                r < std::min(rows, (ch + 1) * kNormRowChunk); ++r) {
                             const T *xr = px + r * c, *gr = pg + r * c;
                             const T mu = T((*stats)[2 * r]), rstd = T((*stats)[2 * r + 1]);
                             if (!part_gamma.empty())
                               for (int64_t j = 0; j < c; ++j)
                                 part_gamma[ch * c + j] += gr[j] * (xr[j] - mu) * rstd;
                             if (!part_beta.empty())
                               for (int64_t j = 0; j < c; ++j) part_beta[ch * c + j] += gr[j];
                             if (!gx.defined()) continue;
                             // dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)),
                             // without the mean(dxhat) term for RMSNorm.
                             T mean_d = 0, mean_dx = 0;
                             for (int64_t j = 0; j < c; ++j) {
                               const T dxhat = gr[j] * pgm[j];
                               mean_d += dxhat;
                               mean_dx += dxhat * (xr[j] - mu) * rstd;
                             }
                             mean_d /= T(c);
                             mean_dx /= T(c);
                             if (!center) mean_d = 0;
                             T* dr = gx.data<T>() + r * c;
                             for (int64_t j = 0; j < c; ++j)
                               dr[j] +=
                                   rstd * (gr[j] * pgm[j] - mean_d - (xr[j] - mu) * rstd * mean_dx);
                           }
                         }
                       });
          for (int64_t ch = 0; ch < chunks; ++ch) {
            if (ggamma.defined())
              for (int64_t j = 0; j < c; ++j) ggamma.data<T>()[j] += part_gamma[ch * c + j];
            if (gbeta.defined())
              for (int64_t j = 0; j < c; ++j) gbeta.data<T>()[j] += part_beta[ch * c + j];
          }
        });
      });
  return y;
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps) {
  return norm_impl("layer_norm", x, gamma, beta, eps, true);
}

Tensor rms_norm(const Tensor& x, const Tensor& gamma, double eps) {
  return norm_impl("rms_norm", x, gamma, Tensor(), eps, false);
}

}  // namespace attnlab
