// Element-wise functions: each is a forward formula and its derivative, side
// by side, run through one shared loop.
#include <cmath>
#include <numbers>

#include "autograd/op.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"

namespace attnlab {
namespace {

// Forward y = f(x); backward dx += g * df(x, y) (y is passed so exp/tanh/sqrt
// reuse their output instead of recomputing).
template <typename Fwd, typename Deriv>
Tensor unary(const char* name, const Tensor& x, Fwd f, Deriv df) {
  check_defined(name, "x", x);
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* py = y.data<T>();
    parallel_for(x.numel(), kElementwiseGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) py[i] = f(px[i]);
    });
  });
  Tensor y_saved = y.detach();  // no cycle: the closure must not own `y` itself
  record_grad_fn(y, name, {x}, [x, y_saved, df](const Tensor& g) {
    Tensor gx = grad_buffer(x);
    dispatch(g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* px = x.data<T>();
      const T* py = y_saved.data<T>();
      const T* pg = g.data<T>();
      T* pd = gx.data<T>();
      parallel_for(g.numel(), kElementwiseGrain, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) pd[i] += pg[i] * df(px[i], py[i]);
      });
    });
  });
  return y;
}

// GELU, tanh form: 0.5 x (1 + tanh(k (x + 0.044715 x^3))), k = sqrt(2/pi).
constexpr double kGeluK = 0.7978845608028654;
constexpr double kGeluC = 0.044715;

}  // namespace

Tensor exp(const Tensor& x) {
  return unary(
      "exp", x, [](auto v) { return std::exp(v); }, [](auto, auto y) { return y; });
}

Tensor log(const Tensor& x) {
  return unary(
      "log", x, [](auto v) { return std::log(v); }, [](auto v, auto) { return 1 / v; });
}

Tensor sqrt(const Tensor& x) {
  return unary(
      "sqrt", x, [](auto v) { return std::sqrt(v); },
      [](auto, auto y) { return decltype(y)(0.5) / y; });
}

Tensor tanh(const Tensor& x) {
  return unary(
      "tanh", x, [](auto v) { return std::tanh(v); }, [](auto, auto y) { return 1 - y * y; });
}

Tensor relu(const Tensor& x) {
  return unary(
      "relu", x, [](auto v) { return v > 0 ? v : decltype(v)(0); },
      [](auto v, auto) { return v > 0 ? decltype(v)(1) : decltype(v)(0); });
}

Tensor gelu(const Tensor& x, GeluApprox approx) {
  if (approx == GeluApprox::Erf) {
    // x * Phi(x); d/dx = Phi(x) + x * phi(x).
    return unary(
        "gelu_erf", x,
        [](auto v) {
          using T = decltype(v);
          return T(0.5) * v * (1 + std::erf(v * T(std::numbers::sqrt2 / 2)));
        },
        [](auto v, auto) {
          using T = decltype(v);
          T cdf = T(0.5) * (1 + std::erf(v * T(std::numbers::sqrt2 / 2)));
          T pdf = std::exp(T(-0.5) * v * v) * T(0.3989422804014327);  // 1/sqrt(2 pi)
          return cdf + v * pdf;
        });
  }
  return unary(
      "gelu_tanh", x,
      [](auto v) {
        using T = decltype(v);
        return T(0.5) * v * (1 + std::tanh(T(kGeluK) * (v + T(kGeluC) * v * v * v)));
      },
      [](auto v, auto) {
        using T = decltype(v);
        T t = std::tanh(T(kGeluK) * (v + T(kGeluC) * v * v * v));
        T dinner = T(kGeluK) * (1 + 3 * T(kGeluC) * v * v);
        return T(0.5) * (1 + t) + T(0.5) * v * (1 - t * t) * dinner;
      });
}

}  // namespace attnlab
