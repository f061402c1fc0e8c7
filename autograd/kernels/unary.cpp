#include "autograd/kernels/unary.h"

#include <cmath>
#include <numbers>

#include "autograd/kernels/vector_math.h"
#include "autograd/parallel.h"

namespace attnlab {
namespace {

// y[i] = f(x[i]), in parallel.
template <typename T, typename F>
void map_forward(T* y, const T* x, int64_t n, F f) {
  parallel_for(n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) y[i] = f(x[i]);
  });
}

// dx[i] = dy[i] * df(s[i]), in parallel; s is x or y, as the derivative needs.
template <typename T, typename DF>
void map_backward(T* dx, const T* dy, const T* s, int64_t n, DF df) {
  if (!dx) return;
  parallel_for(n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) dx[i] = dy[i] * df(s[i]);
  });
}

constexpr double kGeluK = 0.7978845608028654;  // sqrt(2/pi)
constexpr double kGeluC = 0.044715;

}  // namespace

template <typename T>
void exp_forward(T* y, const T* x, int64_t n) {
  map_forward(y, x, n, [](T v) { return std::exp(v); });
}
template <typename T>
void exp_backward(T* dx, const T* dy, const T* y, int64_t n) {
  map_backward(dx, dy, y, n, [](T v) { return v; });
}

template <typename T>
void log_forward(T* y, const T* x, int64_t n) {
  map_forward(y, x, n, [](T v) { return std::log(v); });
}
template <typename T>
void log_backward(T* dx, const T* dy, const T* x, int64_t n) {
  map_backward(dx, dy, x, n, [](T v) { return 1 / v; });
}

template <typename T>
void sqrt_forward(T* y, const T* x, int64_t n) {
  map_forward(y, x, n, [](T v) { return std::sqrt(v); });
}
template <typename T>
void sqrt_backward(T* dx, const T* dy, const T* y, int64_t n) {
  map_backward(dx, dy, y, n, [](T v) { return T(0.5) / v; });
}

template <typename T>
void tanh_forward(T* y, const T* x, int64_t n) {
  map_forward(y, x, n, [](T v) { return fast_tanh(v); });
}
template <typename T>
void tanh_backward(T* dx, const T* dy, const T* y, int64_t n) {
  map_backward(dx, dy, y, n, [](T v) { return 1 - v * v; });
}

template <typename T>
void relu_forward(T* y, const T* x, int64_t n) {
  map_forward(y, x, n, [](T v) { return v > 0 ? v : T(0); });
}
template <typename T>
void relu_backward(T* dx, const T* dy, const T* x, int64_t n) {
  map_backward(dx, dy, x, n, [](T v) { return v > 0 ? T(1) : T(0); });
}

template <typename T>
void gelu_tanh_forward(T* y, const T* x, int64_t n) {
  map_forward(y, x, n, [](T v) {
    return T(0.5) * v * (1 + fast_tanh(T(kGeluK) * (v + T(kGeluC) * v * v * v)));
  });
}
template <typename T>
void gelu_tanh_backward(T* dx, const T* dy, const T* x, int64_t n) {
  map_backward(dx, dy, x, n, [](T v) {
    T t = fast_tanh(T(kGeluK) * (v + T(kGeluC) * v * v * v));
    T dinner = T(kGeluK) * (1 + 3 * T(kGeluC) * v * v);
    return T(0.5) * (1 + t) + T(0.5) * v * (1 - t * t) * dinner;
  });
}

template <typename T>
void gelu_erf_forward(T* y, const T* x, int64_t n) {
  map_forward(y, x, n,
              [](T v) { return T(0.5) * v * (1 + fast_erf(v * T(std::numbers::sqrt2 / 2))); });
}
template <typename T>
void gelu_erf_backward(T* dx, const T* dy, const T* x, int64_t n) {
  map_backward(dx, dy, x, n, [](T v) {
    T cdf = T(0.5) * (1 + fast_erf(v * T(std::numbers::sqrt2 / 2)));
    T pdf = fast_exp(T(-0.5) * v * v) * T(0.3989422804014327);  // 1/sqrt(2 pi)
    return cdf + v * pdf;
  });
}

#define ATTNLAB_INSTANTIATE(T)                                          \
  template void exp_forward<T>(T*, const T*, int64_t);                  \
  template void exp_backward<T>(T*, const T*, const T*, int64_t);       \
  template void log_forward<T>(T*, const T*, int64_t);                  \
  template void log_backward<T>(T*, const T*, const T*, int64_t);       \
  template void sqrt_forward<T>(T*, const T*, int64_t);                 \
  template void sqrt_backward<T>(T*, const T*, const T*, int64_t);      \
  template void tanh_forward<T>(T*, const T*, int64_t);                 \
  template void tanh_backward<T>(T*, const T*, const T*, int64_t);      \
  template void relu_forward<T>(T*, const T*, int64_t);                 \
  template void relu_backward<T>(T*, const T*, const T*, int64_t);      \
  template void gelu_tanh_forward<T>(T*, const T*, int64_t);            \
  template void gelu_tanh_backward<T>(T*, const T*, const T*, int64_t); \
  template void gelu_erf_forward<T>(T*, const T*, int64_t);             \
  template void gelu_erf_backward<T>(T*, const T*, const T*, int64_t);
ATTNLAB_INSTANTIATE(float)
ATTNLAB_INSTANTIATE(double)
#undef ATTNLAB_INSTANTIATE

}  // namespace attnlab
