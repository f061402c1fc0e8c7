// The blocked GEMM against the naive reference: all transpose cases, edge tiles, alpha/beta,
// padded leading dimensions, batching, thread-count determinism and argument errors.
#include "autograd/parallel.h"

#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "autograd/kernels/gemm.h"

using attnlab::gemm;
using attnlab::gemm_batched;
using attnlab::gemm_reference;
using attnlab::teams_started;
using attnlab::ThreadCountScope;

namespace {

template <typename T>
std::vector<T> random_vector(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(dist(rng));
  return v;
}

// Rounding bound for an element: a few ulps per term of sum |a||b| (plus |beta c|), since the
// blocked and naive sums associate differently.
template <typename T>
T tolerance(int64_t K) {
  const T eps = std::numeric_limits<T>::epsilon();
  return eps * T(4) * T(K + 4);
}

struct Case {
  bool ta, tb;
  int64_t M, N, K;
  int64_t pad;  // extra leading-dimension elements beyond the minimum
  double alpha, beta;
};

// Runs gemm and gemm_reference on the same random inputs and compares element-wise against an
// error bound built from |alpha| sum |a||b| + |beta c|.
template <typename T>
void check_case(const Case& c, uint32_t seed) {
  const int64_t a_rows = c.ta ? c.K : c.M, a_cols = c.ta ? c.M : c.K;
  const int64_t b_rows = c.tb ? c.N : c.K, b_cols = c.tb ? c.K : c.N;
  const int64_t lda = a_cols + c.pad, ldb = b_cols + c.pad, ldc = c.N + c.pad;
  const auto A = random_vector<T>(std::max<int64_t>(1, a_rows * lda), seed);
  const auto B = random_vector<T>(std::max<int64_t>(1, b_rows * ldb), seed + 1);
  auto C = random_vector<T>(std::max<int64_t>(1, c.M * ldc), seed + 2);
  if (c.beta == 0) std::fill(C.begin(), C.end(), std::numeric_limits<T>::quiet_NaN());
  const auto original = C;
  auto expected = C;
  const T alpha = T(c.alpha), beta = T(c.beta);
  gemm<T>(c.ta, c.tb, c.M, c.N, c.K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
  gemm_reference<T>(c.ta, c.tb, c.M, c.N, c.K, alpha, A.data(), lda, B.data(), ldb, beta,
                    expected.data(), ldc);
  // |A| and |B| give the magnitude sums via one more reference product.
  std::vector<T> abs_a(A.size()), abs_b(B.size()), mag(C.size());
  for (size_t i = 0; i < A.size(); ++i) abs_a[i] = std::abs(A[i]);
  for (size_t i = 0; i < B.size(); ++i) abs_b[i] = std::abs(B[i]);
  gemm_reference<T>(c.ta, c.tb, c.M, c.N, c.K, T(1), abs_a.data(), lda, abs_b.data(), ldb, T(0),
                    mag.data(), ldc);
  int64_t bad = 0;
  for (int64_t i = 0; i < c.M; ++i) {
    for (int64_t j = 0; j < c.N; ++j) {
      const int64_t at = i * ldc + j;
      const T scaled_c = beta == T(0) ? T(0) : std::abs(beta * original[at]);
      const T bound = tolerance<T>(c.K) * (std::abs(alpha) * mag[at] + scaled_c);
      if (!(std::abs(C[at] - expected[at]) <= bound)) {
        if (bad++ < 3) {
          INFO("i=" << i << " j=" << j << " got " << C[at] << " want " << expected[at]);
          CHECK(std::abs(C[at] - expected[at]) <= bound);
        }
      }
    }
    // Padding columns of C must be left alone.
    for (int64_t j = c.N; j < ldc; ++j) {
      const int64_t at = i * ldc + j;
      if (std::memcmp(&C[at], &expected[at], sizeof(T)) != 0) ++bad;
    }
  }
  INFO("ta=" << c.ta << " tb=" << c.tb << " M=" << c.M << " N=" << c.N << " K=" << c.K
             << " pad=" << c.pad << " alpha=" << c.alpha << " beta=" << c.beta);
  REQUIRE(bad == 0);
}

const int64_t kShapes[][3] = {
    {1, 1, 1},      {7, 7, 7},     {63, 63, 63},  {65, 65, 65}, {257, 65, 63},
    {1, 257, 65},   {65, 1, 257},  {63, 257, 1},  {13, 33, 17}, {12, 32, 8},
    {100, 37, 300}, {24, 64, 513}, {37, 45, 600},
};

template <typename T>
void check_all_shapes() {
  uint32_t seed = 1;
  for (const auto& s : kShapes) {
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      check_case<T>({ta, tb, s[0], s[1], s[2], 0, 1.0, 0.0}, seed++);
      check_case<T>({ta, tb, s[0], s[1], s[2], 3, -0.75, 0.5}, seed++);
      check_case<T>({ta, tb, s[0], s[1], s[2], 1, 1.0, 1.0}, seed++);
    }
  }
}

}  // namespace

TEST_CASE("gemm: float matches reference for all transposes and odd shapes", "[gemm]") {
  check_all_shapes<float>();
}

TEST_CASE("gemm: double matches reference for all transposes and odd shapes", "[gemm]") {
  check_all_shapes<double>();
}

TEST_CASE("gemm: shapes crossing every blocking boundary", "[gemm]") {
  // K > KC (512) and M > MC in both precisions; N > NC (double: 2048) splits C into column
  // panels, and so does a K long enough to cap the packed copy of op(B).
  check_case<double>({false, true, 130, 2100, 600, 1, 1.0, 1.0}, 99);
  check_case<float>({true, false, 500, 130, 700, 0, 2.0, -1.0}, 98);
  check_case<double>({true, true, 5, 500, 9000, 2, 1.0, 0.0}, 97);
}

TEST_CASE("gemm: zero sizes", "[gemm]") {
  std::vector<float> C = {1, 2, 3, 4, 5, 6};
  const float dummy = 0;
  gemm<float>(false, false, 2, 3, 0, 1.0f, &dummy, 0, &dummy, 3, 2.0f, C.data(), 3);
  REQUIRE(C == std::vector<float>{2, 4, 6, 8, 10, 12});
  std::vector<float> nan_c(6, std::numeric_limits<float>::quiet_NaN());
  gemm<float>(false, false, 2, 3, 0, 1.0f, &dummy, 0, &dummy, 3, 0.0f, nan_c.data(), 3);
  REQUIRE(nan_c == std::vector<float>(6, 0.0f));
  gemm<float>(false, false, 0, 3, 5, 1.0f, &dummy, 5, &dummy, 3, 0.0f, nullptr, 3);
  gemm<float>(false, false, 2, 0, 5, 1.0f, &dummy, 5, &dummy, 0, 0.0f, C.data(), 0);
  REQUIRE(C == std::vector<float>{2, 4, 6, 8, 10, 12});
}

TEST_CASE("gemm: batched matches a loop of reference products, with shared operands", "[gemm]") {
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    for (const auto& [batch, M, N, K] :
         {std::array<int64_t, 4>{9, 17, 33, 20}, std::array<int64_t, 4>{64, 16, 16, 16},
          std::array<int64_t, 4>{3, 70, 90, 80}}) {
      for (int share = 0; share < 3; ++share) {  // 0: none, 1: A shared, 2: B shared
        const int64_t lda = (ta ? M : K) + 1, ldb = (tb ? K : N) + 2, ldc = N + 3;
        const int64_t sa = share == 1 ? 0 : (ta ? K : M) * lda + 5;
        const int64_t sb = share == 2 ? 0 : (tb ? N : K) * ldb;
        const int64_t sc = M * ldc + 1;
        const auto A = random_vector<float>(sa * (batch - 1) + (ta ? K : M) * lda, 7 + t);
        const auto B = random_vector<float>(sb * (batch - 1) + (tb ? N : K) * ldb, 8 + t);
        auto C = random_vector<float>(sc * batch, 9 + t);
        auto expected = C;
        gemm_batched<float>(ta, tb, batch, M, N, K, 0.5f, A.data(), lda, sa, B.data(), ldb, sb,
                            1.0f, C.data(), ldc, sc);
        for (int64_t i = 0; i < batch; ++i)
          gemm_reference<float>(ta, tb, M, N, K, 0.5f, A.data() + i * sa, lda, B.data() + i * sb,
                                ldb, 1.0f, expected.data() + i * sc, ldc);
        float worst = 0;
        for (size_t i = 0; i < C.size(); ++i) worst = std::max(worst, std::abs(C[i] - expected[i]));
        INFO("ta=" << ta << " tb=" << tb << " batch=" << batch << " M=" << M << " N=" << N
                   << " K=" << K << " share=" << share);
        REQUIRE(worst <= 1e-5f * K);
      }
    }
  }
  // stride_c 0 with beta 1: products are summed into one C in order.
  const auto A = random_vector<double>(4 * 6 * 5, 3), B = random_vector<double>(4 * 5 * 7, 4);
  std::vector<double> C(6 * 7, 0.0), expected(6 * 7, 0.0);
  gemm_batched<double>(false, false, 4, 6, 7, 5, 1.0, A.data(), 5, 30, B.data(), 7, 35, 1.0,
                       C.data(), 7, 0);
  for (int64_t i = 0; i < 4; ++i)
    gemm_reference<double>(false, false, 6, 7, 5, 1.0, A.data() + i * 30, 5, B.data() + i * 35, 7,
                           1.0, expected.data(), 7);
  for (size_t i = 0; i < C.size(); ++i) REQUIRE(std::abs(C[i] - expected[i]) < 1e-12);
}

TEST_CASE("gemm: bit-identical results for 1 and 2 threads, and both agree with the reference",
          "[gemm]") {
  const int64_t M = 300, N = 500, K = 700;  // edge tiles in M and N, K > KC
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    INFO("ta=" << ta << " tb=" << tb);
    const auto A = random_vector<float>(M * K, 21), B = random_vector<float>(K * N, 22);
    const auto C0 = random_vector<float>(M * N, 23);
    std::vector<float> C1 = C0, C2 = C0, expected = C0;
    {
      ThreadCountScope one(1);
      gemm<float>(ta, tb, M, N, K, 1.0f, A.data(), ta ? M : K, B.data(), tb ? K : N, 1.0f,
                  C1.data(), N);
    }
    {
      // A new thread count also ends any contention back-off, so this run is
      // a parallel one; teams_started() proves it.
      ThreadCountScope two(2);
      const int64_t teams = teams_started();
      gemm<float>(ta, tb, M, N, K, 1.0f, A.data(), ta ? M : K, B.data(), tb ? K : N, 1.0f,
                  C2.data(), N);
      CHECK(teams_started() > teams);
    }
    REQUIRE(std::memcmp(C1.data(), C2.data(), C1.size() * sizeof(float)) == 0);
    gemm_reference<float>(ta, tb, M, N, K, 1.0f, A.data(), ta ? M : K, B.data(), tb ? K : N, 1.0f,
                          expected.data(), N);
    float worst = 0;  // sums of 700 products in another order: float rounding only
    for (size_t i = 0; i < C1.size(); ++i)
      worst = std::max(worst, std::abs(C1[i] - expected[i]) / (1.0f + std::abs(expected[i])));
    CHECK(worst < 1e-4f);
  }
  // Batched: the parallel-over-batch path must agree with the per-product path and the reference.
  const int64_t batch = 64, m = 32, n = 48, k = 24;
  const auto A = random_vector<float>(batch * m * k, 31),
             B = random_vector<float>(batch * k * n, 32);
  std::vector<float> C1(batch * m * n), C2(batch * m * n), expected(batch * m * n);
  {
    ThreadCountScope one(1);
    gemm_batched<float>(false, true, batch, m, n, k, 1.0f, A.data(), k, m * k, B.data(), k, n * k,
                        0.0f, C1.data(), n, m * n);
  }
  {
    ThreadCountScope two(2);
    gemm_batched<float>(false, true, batch, m, n, k, 1.0f, A.data(), k, m * k, B.data(), k, n * k,
                        0.0f, C2.data(), n, m * n);
  }
  REQUIRE(std::memcmp(C1.data(), C2.data(), C1.size() * sizeof(float)) == 0);
  for (int64_t i = 0; i < batch; ++i)
    gemm_reference<float>(false, true, m, n, k, 1.0f, A.data() + i * m * k, k, B.data() + i * n * k,
                          k, 0.0f, expected.data() + i * m * n, n);
  for (size_t i = 0; i < C1.size(); ++i)
    REQUIRE(std::abs(C1[i] - expected[i]) < 1e-4f * (1.0f + std::abs(expected[i])));
}

TEST_CASE("gemm: argument errors name the argument and the shape", "[gemm]") {
  std::vector<float> buf(64);
  const float* a = buf.data();
  float* c = buf.data();
  REQUIRE_THROWS_AS(gemm<float>(false, false, 3, 4, 7, 1.0f, a, 5, a, 4, 0.0f, c, 4),
                    std::invalid_argument);
  REQUIRE_THROWS_WITH(gemm<float>(false, false, 3, 4, 7, 1.0f, a, 5, a, 4, 0.0f, c, 4),
                      Catch::Contains("gemm: lda=5 is smaller than K=7 for A (M=3,K=7, "
                                      "trans_a=false)"));
  REQUIRE_THROWS_WITH(
      gemm<float>(true, false, 3, 4, 7, 1.0f, a, 2, a, 4, 0.0f, c, 4),
      Catch::Contains("lda=2 is smaller than M=3") && Catch::Contains("trans_a=true"));
  REQUIRE_THROWS_WITH(gemm<float>(false, true, 3, 4, 7, 1.0f, a, 7, a, 6, 0.0f, c, 4),
                      Catch::Contains("gemm: ldb=6 is smaller than K=7 for B"));
  REQUIRE_THROWS_WITH(gemm<float>(false, false, 3, 4, 7, 1.0f, a, 7, a, 3, 0.0f, c, 4),
                      Catch::Contains("gemm: ldb=3 is smaller than N=4"));
  REQUIRE_THROWS_WITH(gemm<float>(false, false, 3, 4, 7, 1.0f, a, 7, a, 4, 0.0f, c, 2),
                      Catch::Contains("gemm: ldc=2 is smaller than N=4"));
  REQUIRE_THROWS_WITH(gemm<float>(false, false, -1, 4, 7, 1.0f, a, 7, a, 4, 0.0f, c, 4),
                      Catch::Contains("gemm: negative dimension") && Catch::Contains("M=-1"));
  REQUIRE_THROWS_WITH(
      gemm_batched<float>(false, false, 2, 3, 4, 7, 1.0f, a, 5, 21, a, 4, 28, 0.0f, c, 4, 12),
      Catch::Contains("gemm_batched: lda=5 is smaller than K=7"));
  REQUIRE_THROWS_WITH(
      gemm_batched<float>(false, false, -2, 3, 4, 7, 1.0f, a, 7, 21, a, 4, 28, 0.0f, c, 4, 12),
      Catch::Contains("gemm_batched: negative batch=-2"));
}

TEST_CASE("gemm: gemm_bias equals the reference product plus the bias row, float and double",
          "[gemm]") {
  const auto run = [](auto tag) {
    using T = decltype(tag);
    uint32_t seed = 500;
    for (const auto& s : kShapes) {
      for (int t = 0; t < 4; ++t) {
        const bool ta = t & 1, tb = t & 2;
        const int64_t M = s[0], N = s[1], K = s[2];
        const int64_t lda = ta ? M : K, ldb = tb ? K : N;
        const auto A = random_vector<T>(size_t(M * K), seed++);
        const auto B = random_vector<T>(size_t(K * N), seed++);
        const auto bias = random_vector<T>(size_t(N), seed++);
        std::vector<T> C(size_t(M * N), std::numeric_limits<T>::quiet_NaN()), want(C.size());
        attnlab::gemm_bias<T>(ta, tb, M, N, K, A.data(), lda, B.data(), ldb, bias.data(), C.data(),
                              N);
        gemm_reference<T>(ta, tb, M, N, K, T(1), A.data(), lda, B.data(), ldb, T(0), want.data(),
                          N);
        // The bound of check_case: a few ulps per term of sum |a||b| (inputs in [-1, 1]), plus
        // the bias.
        std::vector<T> abs_a(A.size()), abs_b(B.size()), mag(C.size());
        for (size_t i = 0; i < A.size(); ++i) abs_a[i] = std::abs(A[i]);
        for (size_t i = 0; i < B.size(); ++i) abs_b[i] = std::abs(B[i]);
        gemm_reference<T>(ta, tb, M, N, K, T(1), abs_a.data(), lda, abs_b.data(), ldb, T(0),
                          mag.data(), N);
        int64_t bad = 0;
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j) {
            const T expected = want[size_t(i * N + j)] + bias[size_t(j)];
            const T bound = tolerance<T>(K) * (mag[size_t(i * N + j)] + std::abs(bias[size_t(j)]));
            if (!(std::abs(C[size_t(i * N + j)] - expected) <= bound)) ++bad;
          }
        INFO("ta=" << ta << " tb=" << tb << " M=" << M << " N=" << N << " K=" << K);
        REQUIRE(bad == 0);
      }
    }
  };
  run(float{});
  run(double{});
  // K = 0: no product, every row is the bias
  const std::vector<float> bias = {1.5f, -2.0f, 3.25f};
  std::vector<float> C(6, std::numeric_limits<float>::quiet_NaN());
  attnlab::gemm_bias<float>(false, true, 2, 3, 0, nullptr, 1, nullptr, 1, bias.data(), C.data(), 3);
  CHECK(C == std::vector<float>{1.5f, -2.0f, 3.25f, 1.5f, -2.0f, 3.25f});
}
