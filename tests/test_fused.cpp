// Every fused kernel against the same arithmetic composed from elementary
// ops, value and gradient, in float64: the fused forms (cross_entropy with
// its log-softmax, the norms with their saved statistics, softmax and
// log_softmax with the max subtracted) must compute what their definitions say.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <limits>

#include "autograd/kernels/vector_math.h"
#include "autograd/ops.h"

using namespace attnlab;

namespace {

Tensor leaf(const Shape& shape, uint64_t seed, double mean = 0, double stddev = 1) {
  Generator gen{seed, 0};
  Tensor t = rand_normal(shape, gen, mean, stddev, DType::F64);
  t.set_requires_grad(true);
  return t;
}

// Runs f on fresh copies of the inputs, backpropagates sum(f * R) and returns
// the value followed by every input's gradient, flattened.
std::vector<std::vector<double>> value_and_grads(
    const std::vector<Tensor>& inputs, const std::function<Tensor(std::vector<Tensor>&)>& f) {
  std::vector<Tensor> xs;
  for (const Tensor& t : inputs) {
    Tensor c = t.clone();
    c.set_requires_grad(true);
    xs.push_back(c);
  }
  Tensor y = f(xs);
  Generator gen{99, 0};
  Tensor r = rand_normal(y.shape(), gen, 0, 1, DType::F64);  // weights every output differently
  sum(mul(y, r)).backward();
  std::vector<std::vector<double>> out{y.to_vector()};
  for (const Tensor& x : xs) out.push_back(x.grad().to_vector());
  return out;
}

void require_close(const std::vector<std::vector<double>>& fused,
                   const std::vector<std::vector<double>>& composed) {
  REQUIRE(fused.size() == composed.size());
  for (size_t k = 0; k < fused.size(); ++k) {
    INFO("k = " << k << " (0 is the value, then the inputs' gradients)");
    REQUIRE(fused[k].size() == composed[k].size());
    for (size_t i = 0; i < fused[k].size(); ++i)
      REQUIRE(fused[k][i] == Approx(composed[k][i]).margin(1e-12).epsilon(1e-10));
  }
}

// log(sum(exp(x))) over the last dim, keepdim, without max subtraction
// (inputs here are small).
Tensor logsumexp_composed(const Tensor& x) {
  return log(sum(exp(x), -1, true));
}

}  // namespace

TEST_CASE("fused: softmax and log_softmax equal their composed definitions") {
  const Tensor x = leaf({3, 4, 7}, 1);
  require_close(
      value_and_grads({x}, [](auto& v) { return softmax(v[0]); }),
      value_and_grads({x}, [](auto& v) { return exp(sub(v[0], logsumexp_composed(v[0]))); }));
  require_close(value_and_grads({x}, [](auto& v) { return log_softmax(v[0]); }),
                value_and_grads({x}, [](auto& v) { return sub(v[0], logsumexp_composed(v[0])); }));
}

TEST_CASE("fused: layer_norm and rms_norm equal their composed definitions") {
  const Tensor x = leaf({2, 5, 6}, 2, 0.5, 2.0), gamma = leaf({6}, 3, 1.0, 0.3),
               beta = leaf({6}, 4);
  const double eps = 1e-5;
  require_close(
      value_and_grads({x, gamma, beta}, [&](auto& v) { return layer_norm(v[0], v[1], v[2], eps); }),
      value_and_grads({x, gamma, beta}, [&](auto& v) {
        Tensor centred = sub(v[0], mean(v[0], -1, true));                       // (B,T,C)
        Tensor var = mean(mul(centred, centred), -1, true);                     // (B,T,1)
        return add(mul(div(centred, sqrt(add_scalar(var, eps))), v[1]), v[2]);  // (B,T,C)
      }));
  require_close(value_and_grads({x, gamma}, [&](auto& v) { return rms_norm(v[0], v[1], eps); }),
                value_and_grads({x, gamma}, [&](auto& v) {
                  Tensor ms = mean(mul(v[0], v[0]), -1, true);  // (B,T,1)
                  return mul(div(v[0], sqrt(add_scalar(ms, eps))), v[1]);
                }));
}

TEST_CASE(
    "fused: cross_entropy equals -mean(target weights * log_softmax), with smoothing and ignored "
    "rows") {
  const int64_t n = 6, v = 5;
  const Tensor logits = leaf({n, v}, 5);
  const IntTensor targets{{n}, {0, 4, -100, 2, 2, 1}};
  for (double smoothing : {0.0, 0.1}) {
    CAPTURE(smoothing);
    // Target distribution per row: (1-e) one-hot + e/V; ignored rows weigh nothing.
    std::vector<double> w(n * v, 0.0);
    int64_t counted = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (targets.data[i] == -100) continue;
      ++counted;
      for (int64_t j = 0; j < v; ++j)
        w[i * v + j] = (j == targets.data[i] ? 1.0 - smoothing : 0.0) + smoothing / double(v);
    }
    const Tensor weights = Tensor::from_vector(w, {n, v}, DType::F64);
    require_close(
        value_and_grads({logits},
                        [&](auto& x) { return cross_entropy(x[0], targets, -100, smoothing); }),
        value_and_grads({logits}, [&](auto& x) {
          return mul_scalar(sum(mul(log_softmax(x[0]), weights)), -1.0 / double(counted));
        }));
  }
}

TEST_CASE("fused: linear (bias in the GEMM) equals matmul then add") {
  // 70 input features and 600 rows: several GEMM tiles and an edge tile each way.
  const Tensor x = leaf({3, 200, 70}, 21), w = leaf({37, 70}, 22), b = leaf({37}, 23);
  require_close(
      value_and_grads({x, w, b}, [](auto& v) { return linear(v[0], v[1], v[2]); }),
      value_and_grads({x, w, b}, [](auto& v) { return linear_composed(v[0], v[1], v[2]); }));
  require_close(value_and_grads({x, w}, [](auto& v) { return linear(v[0], v[1]); }),
                value_and_grads({x, w}, [](auto& v) { return linear_composed(v[0], v[1]); }));
  // K longer than one GEMM slice (the bias joins with the first slice only).
  const Tensor x2 = leaf({40, 1100}, 24), w2 = leaf({9, 1100}, 25), b2 = leaf({9}, 26);
  require_close(
      value_and_grads({x2, w2, b2}, [](auto& v) { return linear(v[0], v[1], v[2]); }),
      value_and_grads({x2, w2, b2}, [](auto& v) { return linear_composed(v[0], v[1], v[2]); }));
}

TEST_CASE("fused: attention_weights equals matmul, scale, bias, masked_fill and softmax") {
  const int64_t b = 2, h = 3, tq = 5, tk = 7, d = 4;
  const Tensor q = leaf({b, h, tq, d}, 31), k = leaf({b, h, tk, d}, 32);
  const Tensor shared_bias = leaf({1, h, tq, tk}, 33), batched_bias = leaf({b, h, tq, tk}, 34);
  // key padding (B,1,1,Tk) with row 1's last 3 keys blocked; causal (Tq,Tk);
  // both (B,1,Tq,Tk) with row 0's first query seeing nothing.
  Mask padding{{b, 1, 1, tk}, std::vector<uint8_t>(size_t(b * tk), 0)};
  for (int64_t j = tk - 3; j < tk; ++j) padding.blocked[size_t(tk + j)] = 1;
  const Mask causal = causal_mask(tq, tk);
  Mask both{{b, 1, tq, tk}, std::vector<uint8_t>(size_t(b * tq * tk), 0)};
  for (int64_t i = 0; i < b * tq * tk; ++i)
    both.blocked[size_t(i)] = causal.blocked[size_t(i % (tq * tk))] |
                              padding.blocked[size_t((i / (tq * tk)) * tk + i % tk)];
  for (int64_t j = 0; j < tk; ++j) both.blocked[size_t(j)] = 1;
  const std::vector<const Mask*> masks = {nullptr, &padding, &causal, &both};
  for (const Mask* mask : masks) {
    for (double scale : {1.0, 0.5}) {
      INFO("mask " << (mask ? shape_str(mask->shape) : "none") << ", scale " << scale);
      require_close(value_and_grads({q, k},
                                    [&](auto& v) {
                                      return attention_weights(v[0], v[1], scale, Tensor(), mask);
                                    }),
                    value_and_grads({q, k}, [&](auto& v) {
                      return attention_weights_composed(v[0], v[1], scale, Tensor(), mask);
                    }));
      for (const Tensor& bias : {shared_bias, batched_bias})
        require_close(value_and_grads({q, k, bias},
                                      [&](auto& v) {
                                        return attention_weights(v[0], v[1], scale, v[2], mask);
                                      }),
                      value_and_grads({q, k, bias}, [&](auto& v) {
                        return attention_weights_composed(v[0], v[1], scale, v[2], mask);
                      }));
    }
  }
}

TEST_CASE("fused: float32 attention weights and values agree with the composed ops") {
  // float32: the fused softmax uses the vectorised exp, the composed one too,
  // but in another order; values and gradients agree to float precision.
  const int64_t b = 2, h = 3, tq = 7, tk = 9, d = 8;
  Generator gen{77, 0};
  const Tensor q0 = rand_normal({b, tq, h * d}, gen, 0, 1),
               k0 = rand_normal({b, tk, h * d}, gen, 0, 1);
  const Tensor v0 = rand_normal({b, tk, h * d}, gen, 0, 1),
               bias0 = rand_normal({1, h, tq, tk}, gen, 0, 1);
  const Tensor r = rand_normal({b, tq, h * d}, gen, 0, 1);
  const Mask causal = causal_mask(tq, tk);
  std::vector<std::vector<double>> results;
  for (bool fused : {true, false}) {
    Tensor q = q0.clone().set_requires_grad(true), k = k0.clone().set_requires_grad(true);
    Tensor v = v0.clone().set_requires_grad(true), bias = bias0.clone().set_requires_grad(true);
    Tensor out = fused ? attention_values(attention_weights(q, k, 0.35, bias, &causal, h), v, h)
                       : attention_values_composed(
                             attention_weights_composed(q, k, 0.35, bias, &causal, h), v, h);
    sum(mul(out, r)).backward();
    std::vector<double> all = out.to_vector();
    for (const Tensor& t : {q, k, v, bias}) {
      const std::vector<double> g = t.grad().to_vector();
      all.insert(all.end(), g.begin(), g.end());
    }
    results.push_back(all);
  }
  for (size_t i = 0; i < results[0].size(); ++i)
    REQUIRE(results[0][i] == Approx(results[1][i]).margin(1e-5).epsilon(1e-4));
}

TEST_CASE("fused: a shared score bias over an empty batch gets a zero gradient") {
  Tensor q = leaf({0, 2, 3, 4}, 51), k = leaf({0, 2, 5, 4}, 52), bias = leaf({1, 2, 3, 5}, 53);
  sum(attention_weights(q, k, 1.0, bias, nullptr)).backward();
  for (double g : bias.grad().to_vector()) CHECK(g == 0.0);
}

TEST_CASE("fused: attention on heads read in place equals split, attend and merge") {
  // q, k, v as the projections make them, (B,T,H*D) with H=3, D=4
  const int64_t b = 2, h = 3, tq = 5, tk = 6, d = 4;
  const Tensor q = leaf({b, tq, h * d}, 41), k = leaf({b, tk, h * d}, 42);
  const Tensor v = leaf({b, tk, h * d}, 43), bias = leaf({1, h, tq, tk}, 44);
  const Mask causal = causal_mask(tq, tk);
  require_close(value_and_grads(
                    {q, k, bias},
                    [&](auto& x) { return attention_weights(x[0], x[1], 0.5, x[2], &causal, h); }),
                value_and_grads({q, k, bias}, [&](auto& x) {
                  return attention_weights_composed(x[0], x[1], 0.5, x[2], &causal, h);
                }));
  const Tensor p = leaf({b, h, tq, tk}, 45), v4 = leaf({b, h, tk, d}, 46);
  require_close(
      value_and_grads({p, v}, [&](auto& x) { return attention_values(x[0], x[1], h); }),
      value_and_grads({p, v}, [&](auto& x) { return attention_values_composed(x[0], x[1], h); }));
  require_close(value_and_grads({p, v4}, [&](auto& x) { return attention_values(x[0], x[1]); }),
                value_and_grads({p, v4}, [&](auto& x) { return matmul(x[0], x[1]); }));
}

// ---- the float32 fast paths (autograd/kernels/vector_math.h) --------------------

TEST_CASE("fast math: float exp within 2 ulp of libm, erf within 3e-7, tanh within 2.5e-7") {
  double worst_exp = 0, worst_erf = 0;
  for (float x = -87.0f; x < 88.7f; x += 0.00093f) {
    const double ref = std::exp(double(x));
    worst_exp = std::max(worst_exp, std::abs(double(fast_exp(x)) - ref) / ref);
  }
  for (float x = -6.0f; x < 6.0f; x += 0.00017f)
    worst_erf = std::max(worst_erf, std::abs(double(fast_erf(x)) - std::erf(double(x))));
  CHECK(worst_exp < 2 * 5.97e-8);  // float's epsilon / 2 is one ulp at most
  CHECK(worst_erf < 3e-7);
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(fast_exp(-inf) == 0.0f);  // softmax gives masked scores exactly 0
  CHECK(fast_exp(-100.0f) == 0.0f);
  CHECK(fast_exp(0.0f) == 1.0f);
  CHECK(fast_exp(100.0f) == inf);
  CHECK(std::isnan(fast_exp(std::nanf(""))));
  CHECK(fast_erf(inf) == 1.0f);
  CHECK(fast_erf(-inf) == -1.0f);
  CHECK(fast_erf(0.0f) == 0.0f);
  CHECK(std::isnan(fast_erf(std::nanf(""))));
  double worst_tanh = 0;
  for (float x = -10.0f; x < 10.0f; x += 0.00031f)
    worst_tanh = std::max(worst_tanh, std::abs(double(fast_tanh(x)) - std::tanh(double(x))));
  CHECK(worst_tanh < 2.5e-7);
  CHECK(fast_tanh(inf) == 1.0f);
  CHECK(fast_tanh(-inf) == -1.0f);
  CHECK(fast_tanh(0.0f) == 0.0f);
  CHECK(std::abs(double(fast_tanh(1e-6f)) - 1e-6) < 1e-13);  // relative accuracy near 0
  CHECK(std::isnan(fast_tanh(std::nanf(""))));
  // float64 is libm itself
  CHECK(fast_tanh(0.37) == std::tanh(0.37));
  CHECK(fast_exp(0.37) == std::exp(0.37));
  CHECK(fast_erf(0.37) == std::erf(0.37));
}

TEST_CASE("fast math: float32 softmax, GELU and cross-entropy agree with their float64 forms") {
  // The float64 kernels call libm; the float32 ones the vectorised exp and
  // erf. Values and gradients agree to float32 precision.
  const Tensor x64 = leaf({4, 6, 37}, 11, 0.0, 3.0);
  const Tensor x32 = x64.detach().to(DType::F32).set_requires_grad(true);
  IntTensor t{{24}, {}};
  for (int64_t i = 0; i < 24; ++i) t.data.push_back(int32_t((i * 7) % 37));
  const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&)>>> ops = {
      {"softmax", [](const Tensor& x) { return softmax(x); }},
      {"log_softmax", [](const Tensor& x) { return log_softmax(x); }},
      {"gelu erf", [](const Tensor& x) { return gelu(x, GeluApprox::Erf); }},
      {"cross_entropy", [&](const Tensor& x) {
         return cross_entropy(reshape(x, {24, 37}), t);
       }}};
  for (const auto& [name, op] : ops) {
    INFO(name);
    std::vector<std::vector<double>> results;
    for (const Tensor& x : {x64, x32}) {
      Tensor input = x.detach().clone().set_requires_grad(true);
      Tensor y = op(input);
      Generator gen{5, 0};
      Tensor r = rand_normal(y.shape(), gen, 0, 1, x.dtype());
      sum(mul(y, r)).backward();
      std::vector<double> values = y.to_vector(), grads = input.grad().to_vector();
      values.insert(values.end(), grads.begin(), grads.end());
      results.push_back(values);
    }
    for (size_t i = 0; i < results[0].size(); ++i)
      REQUIRE(results[1][i] == Approx(results[0][i]).margin(2e-6).epsilon(2e-5));
  }
}
