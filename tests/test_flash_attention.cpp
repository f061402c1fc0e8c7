// The streamed attention (flash_attention) against its composed reference,
// attention_weights_composed then attention_values_composed, for every kind
// of mask the models use, at lengths that are not multiples of the query
// tile (96) or the key tile (192): value and every input's gradient.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <string>
#include <tuple>

#include "autograd/accounting.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"
#include "layers/attention.h"

using namespace attnlab;

namespace {

Tensor random_tensor(const Shape& shape, uint64_t seed, DType dtype) {
  Generator gen{seed, 0};
  return rand_normal(shape, gen, 0, 1, dtype);
}

// The value of attend(q, k, v, bias) and the gradients of sum(out * r) with
// respect to q, k, v and bias (when defined), all flattened into one vector.
std::vector<double> value_and_grads(
    const Tensor& q0, const Tensor& k0, const Tensor& v0, const Tensor& bias0,
    const std::function<Tensor(const Tensor&, const Tensor&, const Tensor&, const Tensor&)>&
        attend) {
  Tensor q = q0.clone().set_requires_grad(true), k = k0.clone().set_requires_grad(true),
         v = v0.clone().set_requires_grad(true);
  Tensor bias = bias0.defined() ? bias0.clone().set_requires_grad(true) : Tensor();
  const Tensor out = attend(q, k, v, bias);
  const Tensor r = random_tensor(out.shape(), 99, out.dtype());
  sum(mul(out, r)).backward();
  std::vector<double> all = out.to_vector();
  for (const Tensor& t : {q, k, v, bias}) {
    if (!t.defined()) continue;
    const std::vector<double> g = t.grad().to_vector();
    all.insert(all.end(), g.begin(), g.end());
  }
  return all;
}

struct MaskCase {
  std::string name;
  int64_t b, h, tq, tk, d;
  KeyMask mask;
  int bias_batch;  // 0: no bias, 1: shared (1,H,Tq,Tk), 2: batched (B,H,Tq,Tk)
};

// Row b's last pad[b] keys are padding.
std::vector<uint8_t> padding(const std::vector<int64_t>& pad, int64_t tk) {
  std::vector<uint8_t> m;
  for (int64_t p : pad)
    for (int64_t j = 0; j < tk; ++j) m.push_back(j >= tk - p);
  return m;
}

std::vector<MaskCase> mask_cases() {
  std::vector<MaskCase> cases;
  const auto add = [&](std::string name, int64_t tq, int64_t tk, KeyMask mask, int bias) {
    cases.push_back({std::move(name), 2, 2, tq, tk, 4, std::move(mask), bias});
  };
  add("no mask (bidirectional self)", 131, 131, {}, 0);
  KeyMask pad;
  pad.key_padding = padding({0, 70}, 150);
  add("key padding (BERT)", 150, 150, pad, 0);
  KeyMask causal;
  causal.causal = true;
  add("causal (GPT)", 140, 140, causal, 0);
  add("causal, queries the last of the keys", 70, 200, causal, 0);
  KeyMask combined = causal;
  combined.key_padding = padding({3, 135}, 139);  // row 1's late queries see nothing new
  combined.key_padding[139] = 1;                  // and row 1's first query sees nothing at all
  add("causal and padding", 139, 139, combined, 0);
  KeyMask cross;
  cross.key_padding = padding({0, 100}, 200);
  add("cross, encoder padding (T5)", 67, 200, cross, 0);
  KeyMask pad130;
  pad130.key_padding = padding({50, 0}, 130);
  add("T5 encoder: a shared bias with padding", 130, 130, pad130, 1);
  add("T5 decoder: causal with a shared bias", 129, 129, causal, 1);
  add(
      "batched bias with padding", 131, 131,
      [] {
        KeyMask m;
        m.key_padding = padding({5, 0}, 131);
        return m;
      }(),
      2);
  KeyMask prefix = causal;
  prefix.prefix = {70, 0};
  add("prefix LM", 133, 133, prefix, 0);
  KeyMask prefix_pad = prefix;
  prefix_pad.key_padding = padding({0, 10}, 133);
  add("prefix LM with padding", 133, 133, prefix_pad, 0);
  KeyMask inputs;
  inputs.key_padding = padding({0, 250}, 300);
  add("Perceiver: few latents, many inputs", 9, 300, inputs, 0);
  add("Perceiver: latents self-attend", 9, 9, {}, 0);
  add("no keys at all", 5, 0, {}, 0);
  // several query blocks against several key tiles, a prefix longer than a tile
  KeyMask long_prefix = causal;
  long_prefix.prefix = {250, 0};
  long_prefix.key_padding = padding({0, 50}, 400);
  add("prefix LM across tiles, with padding", 400, 400, long_prefix, 1);
  KeyMask long_cross;
  long_cross.key_padding = padding({0, 200}, 450);
  add("cross across tiles", 130, 450, long_cross, 2);
  return cases;
}

}  // namespace

TEST_CASE("flash attention equals the composed attention for every mask, in float64") {
  for (const MaskCase& c : mask_cases()) {
    INFO(c.name << ": B=" << c.b << " H=" << c.h << " Tq=" << c.tq << " Tk=" << c.tk);
    const Tensor q = random_tensor({c.b, c.tq, c.h * c.d}, 1, DType::F64);
    const Tensor k = random_tensor({c.b, c.tk, c.h * c.d}, 2, DType::F64);
    const Tensor v = random_tensor({c.b, c.tk, c.h * c.d}, 3, DType::F64);
    const Tensor bias =
        c.bias_batch ? random_tensor({c.bias_batch == 1 ? 1 : c.b, c.h, c.tq, c.tk}, 4, DType::F64)
                     : Tensor();
    const double scale = 0.6;
    const auto flash = value_and_grads(q, k, v, bias, [&](auto& q, auto& k, auto& v, auto& b) {
      return flash_attention(q, k, v, c.h, scale, b, c.mask);
    });
    const auto composed = value_and_grads(q, k, v, bias, [&](auto& q, auto& k, auto& v, auto& b) {
      return flash_attention_composed(q, k, v, c.h, scale, b, c.mask);
    });
    REQUIRE(flash.size() == composed.size());
    for (size_t i = 0; i < flash.size(); ++i)
      REQUIRE(flash[i] == Approx(composed[i]).margin(1e-12).epsilon(1e-10));
  }
}

TEST_CASE("flash attention drops the same weights as dropout on the stored weights") {
  // Dropout inside the streamed kernel draws weight (b,h,i,j) from the same
  // counter as the dropout op on the stored (B,H,Tq,Tk) weights, so the two
  // give the same output and gradients, and advance the stream alike.
  KeyMask causal_pad;
  causal_pad.causal = true;
  causal_pad.key_padding = padding({0, 60}, 150);
  KeyMask cross;
  cross.key_padding = padding({20, 0}, 200);
  struct Case {
    const char* name;
    int64_t tq, tk;
    KeyMask mask;
  };
  for (const Case& c :
       {Case{"causal and padding", 150, 150, causal_pad}, Case{"cross", 70, 200, cross}}) {
    INFO(c.name);
    const int64_t b = 2, h = 2, d = 4, tq = c.tq, tk = c.tk;
    const KeyMask& mask = c.mask;
    const Tensor q = random_tensor({b, tq, h * d}, 51, DType::F64);
    const Tensor k = random_tensor({b, tk, h * d}, 52, DType::F64);
    const Tensor v = random_tensor({b, tk, h * d}, 53, DType::F64);
    const Tensor bias = random_tensor({1, h, tq, tk}, 54, DType::F64);
    Generator flash_gen{7, 1000}, composed_gen{7, 1000};
    const auto flash = value_and_grads(q, k, v, bias, [&](auto& q, auto& k, auto& v, auto& bias) {
      return flash_attention(q, k, v, h, 0.5, bias, mask, 0.3, &flash_gen);
    });
    const auto composed =
        value_and_grads(q, k, v, bias, [&](auto& q, auto& k, auto& v, auto& bias) {
          return flash_attention_composed(q, k, v, h, 0.5, bias, mask, 0.3, &composed_gen);
        });
    CHECK(flash_gen.offset == 1000 + uint64_t(b * h * tq * tk));
    CHECK(flash_gen.offset == composed_gen.offset);
    REQUIRE(flash.size() == composed.size());
    for (size_t i = 0; i < flash.size(); ++i)
      REQUIRE(flash[i] == Approx(composed[i]).margin(1e-12).epsilon(1e-10));
    // and dropout did something: without it the output differs
    const auto undropped =
        value_and_grads(q, k, v, bias, [&](auto& q, auto& k, auto& v, auto& bias) {
          return flash_attention(q, k, v, h, 0.5, bias, mask);
        });
    CHECK(undropped[0] != flash[0]);
  }
}

TEST_CASE("flash attention agrees with the composed attention in float32") {
  // The vectorised exp and the tiles' order of summation differ from the
  // composed softmax and matmuls: float precision, not bit equality.
  KeyMask mask;
  mask.causal = true;
  mask.key_padding = padding({0, 40}, 300);
  const int64_t b = 2, h = 3, tq = 300, tk = 300, d = 16;
  const Tensor q = random_tensor({b, tq, h * d}, 11, DType::F32);
  const Tensor k = random_tensor({b, tk, h * d}, 12, DType::F32);
  const Tensor v = random_tensor({b, tk, h * d}, 13, DType::F32);
  const Tensor bias = random_tensor({1, h, tq, tk}, 14, DType::F32);
  const auto flash = value_and_grads(q, k, v, bias, [&](auto& q, auto& k, auto& v, auto& bias) {
    return flash_attention(q, k, v, h, 0.25, bias, mask);
  });
  const auto composed = value_and_grads(q, k, v, bias, [&](auto& q, auto& k, auto& v, auto& bias) {
    return flash_attention_composed(q, k, v, h, 0.25, bias, mask);
  });
  REQUIRE(flash.size() == composed.size());
  for (size_t i = 0; i < flash.size(); ++i)
    REQUIRE(flash[i] == Approx(composed[i]).margin(1e-5).epsilon(1e-4));
}

TEST_CASE("flash attention gives the same bits with 1 and 2 threads") {
  KeyMask mask;
  mask.causal = true;
  const Tensor q = random_tensor({2, 200, 32}, 21, DType::F32);
  const Tensor k = random_tensor({2, 200, 32}, 22, DType::F32);
  const Tensor v = random_tensor({2, 200, 32}, 23, DType::F32);
  const Tensor bias = random_tensor({1, 2, 200, 200}, 24, DType::F32);
  std::vector<std::vector<double>> runs;
  for (int threads : {1, 2}) {
    ThreadCountScope scope(threads);
    set_adapt_to_load(false);
    runs.push_back(value_and_grads(q, k, v, bias, [&](auto& q, auto& k, auto& v, auto& bias) {
      return flash_attention(q, k, v, 2, 0.25, bias, mask);
    }));
    set_adapt_to_load(true);
  }
  REQUIRE(runs[0] == runs[1]);
}

TEST_CASE("flash attention keeps O(T) memory for backward") {
  // What the graph keeps besides its leaves q, k and v: the output and a
  // (B,H,Tq) log-sum-exp, nothing (Tq,Tk). The composed path keeps the
  // (B,H,T,T) weights as well.
  const int64_t b = 1, t = 512, c = 8, h = 2;
  KeyMask mask;
  mask.causal = true;
  const Tensor q = random_tensor({b, t, c}, 31, DType::F32),
               k = random_tensor({b, t, c}, 32, DType::F32),
               v = random_tensor({b, t, c}, 33, DType::F32);
  const auto kept = [&](bool streamed) {
    Tensor x = q.clone().set_requires_grad(true), y = k.clone().set_requires_grad(true),
           z = v.clone().set_requires_grad(true);
    const Tensor out = streamed ? flash_attention(x, y, z, h, 1.0, Tensor(), mask)
                                : flash_attention_composed(x, y, z, h, 1.0, Tensor(), mask);
    return graph_bytes(out);
  };
  const int64_t out = b * t * c * 4, lse = b * h * t * 4;
  CHECK(kept(true) == out + lse);
  CHECK(kept(false) >= out + b * h * t * t * 4);
}

TEST_CASE("flash attention names the shapes it refuses") {
  const Tensor q = random_tensor({2, 3, 8}, 1, DType::F32),
               k = random_tensor({2, 5, 8}, 2, DType::F32);
  KeyMask none;
  CHECK_THROWS_WITH(
      flash_attention(q, k, random_tensor({2, 4, 8}, 3, DType::F32), 2, 1, Tensor(), none),
      Catch::Contains("k, v (B,Tk,H*D)") && Catch::Contains("(2,4,8)"));
  CHECK_THROWS_WITH(flash_attention(q, k, k, 3, 1, Tensor(), none), Catch::Contains("H=3"));
  KeyMask pad;
  pad.key_padding = std::vector<uint8_t>(7, 0);
  CHECK_THROWS_WITH(flash_attention(q, k, k, 2, 1, Tensor(), pad),
                    Catch::Contains("key padding has 7 values") && Catch::Contains("Tk=5"));
  KeyMask causal;
  causal.causal = true;
  CHECK_THROWS_WITH(flash_attention(k, q, q, 2, 1, Tensor(), causal),
                    Catch::Contains("at least as many keys as queries"));
  KeyMask prefix = causal;
  prefix.prefix = {1, 1};
  CHECK_THROWS_WITH(flash_attention(q, k, k, 2, 1, Tensor(), prefix),
                    Catch::Contains("causal self-attention"));
  CHECK_THROWS_WITH(
      flash_attention(q, k, k, 2, 1, random_tensor({1, 2, 3, 4}, 4, DType::F32), none),
      Catch::Contains("bias (1,2,3,4)"));
}

TEST_CASE("attention gives the same output whether or not it is asked for its weights") {
  // Asking for the weights (trace, attention statistics) takes the path
  // that stores them; otherwise the weights are never formed. Both compute
  // the same attention.
  const int64_t b = 2, h = 2, t = 90, c = 8;
  const Tensor q = random_tensor({b, t, c}, 41, DType::F64);
  const Tensor k = random_tensor({b, t, c}, 42, DType::F64);
  const Tensor v = random_tensor({b, t, c}, 43, DType::F64);
  const Tensor bias = random_tensor({1, h, t, t}, 44, DType::F64);
  Mask pad{{b, t}, padding({0, 30}, t)};
  const std::vector<int64_t> prefix{20, 0};
  AttentionMasks masks;
  masks.causal = true;
  masks.key_padding = &pad;
  masks.score_bias = &bias;
  masks.prefix = &prefix;
  Tensor weights;
  const std::vector<double> streamed =
      scaled_dot_product_attention(q, k, v, h, masks, 0.5).to_vector();
  const std::vector<double> stored =
      scaled_dot_product_attention(q, k, v, h, masks, 0.5, nullptr, &weights).to_vector();
  REQUIRE(weights.shape() == Shape{b, h, t, t});
  REQUIRE(streamed.size() == stored.size());
  for (size_t i = 0; i < streamed.size(); ++i)
    REQUIRE(streamed[i] == Approx(stored[i]).margin(1e-12).epsilon(1e-10));
}

TEST_CASE("flash attention passes a NaN score on, as softmax does") {
  // A NaN in q poisons its row's scores; the output row must be NaN (as the
  // stored path's is), not a finite row with zero gradients.
  for (const DType dtype : {DType::F32, DType::F64}) {
    Tensor q = random_tensor({1, 200, 8}, 61, dtype);
    const Tensor k = random_tensor({1, 300, 8}, 62, dtype),
                 v = random_tensor({1, 300, 8}, 63, dtype);
    std::vector<double> values = q.to_vector();
    values[5 * 8] = std::nan("");  // query 5, head 0
    q = Tensor::from_vector(values, q.shape(), dtype);
    for (const bool streamed : {true, false}) {
      const Tensor out = streamed ? flash_attention(q, k, v, 2, 1.0, Tensor(), KeyMask{})
                                  : flash_attention_composed(q, k, v, 2, 1.0, Tensor(), KeyMask{});
      const std::vector<double> o = out.to_vector();
      INFO((streamed ? "streamed" : "composed") << " " << dtype_name(dtype));
      CHECK(std::isnan(o[5 * 8]));       // query 5, head 0
      CHECK(!std::isnan(o[5 * 8 + 4]));  // head 1 of the same query
      CHECK(!std::isnan(o[6 * 8]));      // the next query
    }
  }
}
