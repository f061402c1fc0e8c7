// LayerNorm and RMSNorm over rows of `c` values, forward and backward side by
// side. The forward saves per-row statistics that the backward reuses. Every
// backward output pointer may be null when that gradient is not wanted; the
// others are overwritten (not added to). Results do not depend on the thread
// count: gamma/beta gradients are summed over fixed row chunks in chunk order.
#pragma once

#include <cstdint>

namespace attnlab {

// y = (x - mean) * rstd * gamma + beta per row, rstd = 1/sqrt(var + eps).
//   y, x (rows,c); mean, rstd (rows) written for the backward; gamma (c);
//   beta (c) or null.
template <typename T>
void layernorm_forward(T* y, T* mean, T* rstd, const T* x, const T* gamma, const T* beta,
                       int64_t rows, int64_t c, T eps);
//   dx, dy, x (rows,c); dgamma, dbeta, gamma (c); mean, rstd (rows).
template <typename T>
void layernorm_backward(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x, const T* gamma,
                        const T* mean, const T* rstd, int64_t rows, int64_t c);

// y = x * rstd * gamma per row, rstd = 1/sqrt(mean(x^2) + eps): no centring
// and no bias (T5).
template <typename T>
void rmsnorm_forward(T* y, T* rstd, const T* x, const T* gamma, int64_t rows, int64_t c, T eps);
template <typename T>
void rmsnorm_backward(T* dx, T* dgamma, const T* dy, const T* x, const T* gamma, const T* rstd,
                      int64_t rows, int64_t c);

}  // namespace attnlab
