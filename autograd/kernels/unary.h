// Element-wise functions over n contiguous values, forward and backward side
// by side. Each backward computes dx = dy * f'(.) from whichever of the
// forward's input x or output y gives the derivative most cheaply (exp, sqrt
// and tanh reuse y). A null dx means the gradient is not wanted; otherwise dx
// is overwritten (not added to).
#pragma once

#include <cstdint>

namespace attnlab {

// y (n) = exp(x (n)).
template <typename T>
void exp_forward(T* y, const T* x, int64_t n);
// dx (n) = dy * y.
template <typename T>
void exp_backward(T* dx, const T* dy, const T* y, int64_t n);

// y (n) = log(x (n)).
template <typename T>
void log_forward(T* y, const T* x, int64_t n);
// dx (n) = dy / x.
template <typename T>
void log_backward(T* dx, const T* dy, const T* x, int64_t n);

// y (n) = sqrt(x (n)).
template <typename T>
void sqrt_forward(T* y, const T* x, int64_t n);
// dx (n) = dy * 0.5 / y.
template <typename T>
void sqrt_backward(T* dx, const T* dy, const T* y, int64_t n);

// y (n) = tanh(x (n)).
template <typename T>
void tanh_forward(T* y, const T* x, int64_t n);
// dx (n) = dy * (1 - y^2).
template <typename T>
void tanh_backward(T* dx, const T* dy, const T* y, int64_t n);

// y (n) = max(x (n), 0).
template <typename T>
void relu_forward(T* y, const T* x, int64_t n);
// dx (n) = dy where x > 0, else 0.
template <typename T>
void relu_backward(T* dx, const T* dy, const T* x, int64_t n);

// y (n) = 0.5 x (1 + tanh(k (x + 0.044715 x^3))), k = sqrt(2/pi): GPT-2's
// tanh approximation of GELU.
template <typename T>
void gelu_tanh_forward(T* y, const T* x, int64_t n);
// dx (n) = dy * d/dx of the above.
template <typename T>
void gelu_tanh_backward(T* dx, const T* dy, const T* x, int64_t n);

// y (n) = x Phi(x), Phi the standard normal CDF (via erf): exact GELU.
template <typename T>
void gelu_erf_forward(T* y, const T* x, int64_t n);
// dx (n) = dy * (Phi(x) + x phi(x)), phi the standard normal density.
template <typename T>
void gelu_erf_backward(T* dx, const T* dy, const T* x, int64_t n);

}  // namespace attnlab
