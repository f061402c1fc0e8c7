// bfloat16 products (MatmulPrecision::BFloat16) against a float64 reference,
// within the rounding bound of bfloat16 inputs and float32 sums, for every
// shape class the float32 GEMM has: transposes, edge tiles, odd K, K longer
// than one K slice, several column panels, many threads, beta and bias.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "autograd/kernels/gemm.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"

using namespace attnlab;

namespace {

struct Shape3 {
  bool ta, tb;
  int64_t m, n, k;
};

std::vector<float> random_values(int64_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(gen);
  return v;
}

// Largest |got - want| / bound over C, where want is the float64 product of
// the float32 inputs and the bound for C[i][j] is
//   (2^-7 + (K + 2) 2^-24) sum_k |a_ik b_kj| + 2^-24 |want|
// (each input rounds by at most 2^-8 relative, so a product by 2^-7; the
// float32 sum adds at most K roundings of 2^-24). Also returns the largest
// error relative to sum |a b|, to tell bfloat16 from float32 arithmetic.
struct Errors {
  double worst_ratio = 0, worst_relative = 0;
};
Errors compare(const Shape3& s, float alpha, float beta, bool with_bias) {
  const int64_t lda = s.ta ? s.m : s.k, ldb = s.tb ? s.k : s.n;
  const std::vector<float> a = random_values(s.m * s.k, 1), b = random_values(s.k * s.n, 2),
                           c0 = random_values(s.m * s.n, 3), bias = random_values(s.n, 4);
  std::vector<float> c = c0;
  if (with_bias)
    gemm_bias<float>(s.ta, s.tb, s.m, s.n, s.k, a.data(), lda, b.data(), ldb, bias.data(), c.data(),
                     s.n);
  else
    gemm<float>(s.ta, s.tb, s.m, s.n, s.k, alpha, a.data(), lda, b.data(), ldb, beta, c.data(),
                s.n);
  Errors e;
  for (int64_t i = 0; i < s.m; ++i)
    for (int64_t j = 0; j < s.n; ++j) {
      double sum = 0, magnitude = 0;
      for (int64_t k = 0; k < s.k; ++k) {
        const double x = s.ta ? a[size_t(k * lda + i)] : a[size_t(i * lda + k)];
        const double y = s.tb ? b[size_t(j * ldb + k)] : b[size_t(k * ldb + j)];
        sum += x * y;
        magnitude += std::abs(x * y);
      }
      const double scale = with_bias ? 1.0 : double(alpha);
      const double want = scale * sum + (with_bias ? double(bias[size_t(j)])
                                                   : double(beta) * c0[size_t(i * s.n + j)]);
      const double got = c[size_t(i * s.n + j)];
      const double bound = std::abs(scale) *
                               (std::ldexp(1.0, -7) + double(s.k + 2) * std::ldexp(1.0, -24)) *
                               magnitude +
                           std::ldexp(1.0, -23) * (std::abs(want) + 1e-30);
      e.worst_ratio = std::max(e.worst_ratio, std::abs(got - want) / bound);
      if (magnitude > 0)
        e.worst_relative =
            std::max(e.worst_relative, std::abs(got - want) / (std::abs(scale) * magnitude));
    }
  return e;
}

}  // namespace

TEST_CASE("bf16 gemm: every shape class within bfloat16's rounding bound") {
  if (!bf16_supported()) {
    CHECK_THROWS_WITH(set_matmul_precision(MatmulPrecision::BFloat16), Catch::Contains("AVX-512"));
    WARN("this CPU has no AVX-512 BF16: only the refusal is tested");
    return;
  }
  MatmulPrecisionScope bf16(MatmulPrecision::BFloat16);
  set_adapt_to_load(false);  // 2 threads must mean 2, whatever else runs
  const std::vector<Shape3> shapes = {
      {false, false, 12, 32, 64},      // one full register tile
      {false, false, 7, 5, 3},         // edge tile, odd K
      {false, true, 37, 45, 1},        // K = 1: one pair, half padding
      {true, false, 50, 70, 129},      // transposed A, odd K
      {true, true, 33, 65, 200},       // both transposed
      {false, true, 96, 192, 64},      // an attention tile
      {false, false, 100, 130, 1101},  // K across three slices of 512, the last of odd length
      {true, false, 300, 500, 257},    // many tiles: the threads split it
      {false, false, 20, 4200, 40},    // more columns than one panel
  };
  for (const auto& s : shapes) {
    for (int threads : {1, 2}) {
      ThreadCountScope scope(threads);
      INFO("M=" << s.m << " N=" << s.n << " K=" << s.k << " trans_a=" << s.ta << " trans_b=" << s.tb
                << " threads=" << threads);
      const Errors plain = compare(s, 1.0f, 0.0f, false);
      CHECK(plain.worst_ratio <= 1.0);
      CHECK(compare(s, -0.5f, 1.0f, false).worst_ratio <= 1.0);
      CHECK(compare(s, 1.0f, 0.0f, true).worst_ratio <= 1.0);
      // and the inputs were rounded: float32 products err by about 1e-7 of
      // sum |a b|, bfloat16 ones by about 1e-3
      if (s.k >= 64) CHECK(plain.worst_relative > 1e-4);
    }
  }
  set_adapt_to_load(true);
}

TEST_CASE("bf16 gemm: the same bits for 1 and 2 threads, and float32 again after the scope") {
  if (!bf16_supported()) return;
  const Shape3 s{false, false, 300, 400, 700};
  const std::vector<float> a = random_values(s.m * s.k, 5), b = random_values(s.k * s.n, 6);
  const auto product = [&](int threads) {
    ThreadCountScope scope(threads);
    std::vector<float> c(size_t(s.m * s.n));
    gemm<float>(false, false, s.m, s.n, s.k, 1.0f, a.data(), s.k, b.data(), s.n, 0.0f, c.data(),
                s.n);
    return c;
  };
  std::vector<float> one, two;
  {
    MatmulPrecisionScope bf16(MatmulPrecision::BFloat16);
    set_adapt_to_load(false);
    one = product(1);
    two = product(2);
    set_adapt_to_load(true);
  }
  CHECK(one == two);
  CHECK(matmul_precision() == MatmulPrecision::Float32);
  CHECK(product(1) != one);  // float32 products differ from the rounded ones
}

TEST_CASE("bf16 gemm: rounding to bfloat16 is to the nearest, ties to even") {
  CHECK(round_to_bf16(1.0f) == 1.0f);
  CHECK(round_to_bf16(1.0f + std::ldexp(1.0f, -8)) == 1.0f);  // a tie: to the even 1.0
  CHECK(round_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)) ==
        1.0f + std::ldexp(1.0f, -6));  // a tie: to the even neighbour above
  CHECK(round_to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -12)) ==
        1.0f + std::ldexp(1.0f, -7));  // above the tie: up
  CHECK(std::isnan(round_to_bf16(std::nanf(""))));
  CHECK(std::isinf(round_to_bf16(INFINITY)));
  CHECK(round_to_bf16(-2.5f) == -2.5f);
}

TEST_CASE("bf16 gemm: float64 products are never rounded") {
  if (!bf16_supported()) return;
  MatmulPrecisionScope bf16(MatmulPrecision::BFloat16);
  const std::vector<double> a{1.0 + 1e-9, 2.0}, b{3.0, 1.0 - 1e-9};
  double c = 0;
  gemm<double>(false, false, 1, 1, 2, 1.0, a.data(), 2, b.data(), 1, 0.0, &c, 1);
  CHECK(c == Approx((1.0 + 1e-9) * 3.0 + 2.0 * (1.0 - 1e-9)).epsilon(1e-14));
}
