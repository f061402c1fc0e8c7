// exp, erf and tanh that the compiler can vectorise, for the float32 kernels.
//
// Why: std::exp and std::erf are calls into libm, one element at a time; in
// a profile of a small GPT step, GELU's erf and exp and softmax's exp took
// about a fifth of the time. These are straight-line arithmetic (no calls,
// no branches), so a loop over them compiles to AVX2/AVX-512 code.
//
// Float64 keeps libm: the gradient checks run at float64, where these
// approximations would be too coarse. fast_exp<double>, fast_erf<double> and
// fast_tanh<double> therefore are libm's, and tests/test_fused.cpp holds the
// float versions to libm (exp within 2 ulp, erf within 3e-7, tanh within
// 2.5e-7).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace attnlab {

namespace detail {

// e^x for float: x = n ln2 + r with |r| <= ln2/2, e^r by its Taylor series to
// r^7 (truncation below 5e-9 relative), times 2^n built in the exponent bits.
// Below -87.3 the result would be denormal or zero: it is 0 (the kernels
// flush denormals anyway), so exp(-inf) is exactly 0. NaN stays NaN.
inline float exp_float(float x) {
  const float low = x < -87.3f ? -87.3f : x;
  const float high = low > 89.0f ? 89.0f : low;  // e^89 overflows to inf
  const float clamped = x != x ? 0.0f : high;    // NaN must not reach the int conversion
  const float n = std::nearbyint(clamped * 1.44269504088896341f);  // round(x / ln2)
  const float r = (clamped - n * 0.693145751953125f) - n * 1.42860682030941723e-6f;
  float p = 1.0f / 5040;
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  // 2^n as two factors, so that n = 128 (x near the top of the range) does
  // not overflow the exponent field.
  const int32_t half = int32_t(n) / 2;
  const int32_t bits_a = (half + 127) << 23, bits_b = (int32_t(n) - half + 127) << 23;
  float scale_a, scale_b;
  std::memcpy(&scale_a, &bits_a, sizeof scale_a);
  std::memcpy(&scale_b, &bits_b, sizeof scale_b);
  const float y = p * scale_a * scale_b;
  return x < -87.3f ? 0.0f : (x != x ? x : y);
}

// erf for float. Near 0, its Maclaurin series to x^15 (truncation below
// 2e-8 for |x| < 0.75); elsewhere the rational-times-Gaussian form of
// Abramowitz and Stegun (7.1.26): erf(a) = 1 - t (a1 + t (a2 + ... + t a5))
// e^(-a^2), t = 1/(1 + p a), a = |x|, absolute error below 1.5e-7 (in float,
// about 3e-7). Both are computed and one selected, so the loop vectorises.
inline float erf_float(float x) {
  const float x2 = x * x;
  float series = -1.0f / 75600;  // coefficients of x^(2k+1): (-1)^k / (k! (2k+1))
  series = series * x2 + 1.0f / 9360;
  series = series * x2 - 1.0f / 1320;
  series = series * x2 + 1.0f / 216;
  series = series * x2 - 1.0f / 42;
  series = series * x2 + 1.0f / 10;
  series = series * x2 - 1.0f / 3;
  series = series * x2 + 1.0f;
  series = series * x * 1.12837916709551257f;  // 2 / sqrt(pi)
  const float a = std::fabs(x);
  const float t = 1.0f / (1.0f + 0.3275911f * a);
  float poly = 1.061405429f;
  poly = poly * t - 1.453152027f;
  poly = poly * t + 1.421413741f;
  poly = poly * t - 0.284496736f;
  poly = poly * t + 0.254829592f;
  const float e = 1.0f - poly * t * exp_float(-x2);
  return a < 0.75f ? series : std::copysign(e, x);
}

// tanh for float: 1 - 2 / (e^(2x) + 1) with exp_float; for |x| < 0.3, where
// that subtracts nearly equal numbers, its Maclaurin series to x^9
// (truncation below 6e-8 relative). Both computed, one selected, so the loop
// vectorises. e^(2x) saturates (exp_float clamps), so +-inf give +-1.
inline float tanh_float(float x) {
  const float x2 = x * x;
  float series = 62.0f / 2835;  // coefficients of x^(2k+1)
  series = series * x2 - 17.0f / 315;
  series = series * x2 + 2.0f / 15;
  series = series * x2 - 1.0f / 3;
  series = series * x2 + 1.0f;
  series = series * x;
  const float e = 1.0f - 2.0f / (exp_float(2.0f * x) + 1.0f);
  return std::fabs(x) < 0.3f ? series : e;
}

}  // namespace detail

template <typename T>
inline T fast_exp(T x) {
  if constexpr (std::is_same_v<T, float>)
    return detail::exp_float(x);
  else
    return std::exp(x);
}

template <typename T>
inline T fast_tanh(T x) {
  if constexpr (std::is_same_v<T, float>)
    return detail::tanh_float(x);
  else
    return std::tanh(x);
}

template <typename T>
inline T fast_erf(T x) {
  if constexpr (std::is_same_v<T, float>)
    return detail::erf_float(x);
  else
    return std::erf(x);
}

}  // namespace attnlab
