// Greedy, sampling and beam search (decode/search.h) on a model whose next-
// token distribution is known exactly: a Markov chain over a 5-token vocabulary.
#include <catch2/catch.hpp>
#include <cmath>
#include <map>

#include "decode/search.h"

using namespace attnlab;
using Catch::Matchers::Contains;

namespace {

constexpr int32_t kBos = 1, kEos = 2, kA = 3, kB = 4;

// P(next | last token): from BOS, A 0.6 and B 0.4; after A, A or B 0.35 each
// and EOS 0.3; after B, EOS 0.9. Greedy takes A first, but "B EOS" (0.36) is
// the likeliest sequence.
class MarkovModel : public Model {
 public:
  MarkovModel() : Model(config()) {}
  static ModelConfig config() {
    ModelConfig c = preset(Family::GPT);
    c.vocab_size = 5;
    c.max_len = 64;
    return c;
  }
  Architecture architecture() const override { return Architecture::DecoderOnly; }
  DecodeCache start_decoding(int64_t, int64_t capacity, const Tensor*, const Mask*) const override {
    DecodeCache cache;
    return cache;
  }
  Tensor decode_cached(const IntTensor& tokens, const std::vector<int64_t>&,
                       DecodeCache&) const override {
    const int64_t b = tokens.shape[0], t = tokens.shape[1];
    std::vector<double> logits;
    for (int32_t token : tokens.data) {
      const std::vector<double> p = next(token);
      for (double x : p) logits.push_back(x > 0 ? std::log(x) : -1e9);
    }
    return Tensor::from_vector(logits, {b, t, 5}, DType::F64);
  }
  static std::vector<double> next(int32_t last) {
    if (last == kA) return {0, 0, 0.3, 0.35, 0.35};
    if (last == kB) return {0, 0, 0.9, 0.05, 0.05};
    return {0, 0, 0, 0.6, 0.4};  // BOS (and anything else)
  }
};

// A chain whose likeliest sequence, "A C D" (0.9 x 0.99 x 0.99 x 0.99), ends
// only after two poor ones have: "B" (0.1 x 0.5) and "B B" (0.1 x 0.5 x 0.5).
constexpr int32_t kC = 5, kD = 6;
class LateWinnerModel : public MarkovModel {
 public:
  Tensor decode_cached(const IntTensor& tokens, const std::vector<int64_t>&,
                       DecodeCache&) const override {
    std::vector<double> logits;
    for (int32_t token : tokens.data) {
      std::vector<double> p(7, 0.0);
      if (token == kA)
        p[kC] = 0.99, p[kEos] = 0.01;
      else if (token == kC)
        p[kD] = 0.99, p[kEos] = 0.01;
      else if (token == kD)
        p[kEos] = 0.99, p[kA] = 0.01;
      else if (token == kB)
        p[kEos] = 0.5, p[kB] = 0.5;
      else
        p[kA] = 0.9, p[kB] = 0.1;  // BOS
      for (double x : p) logits.push_back(x > 0 ? std::log(x) : -1e9);
    }
    return Tensor::from_vector(logits, {tokens.shape[0], tokens.shape[1], 7}, DType::F64);
  }
};

GenerateOptions options(int64_t max_new = 6) {
  GenerateOptions o;
  o.max_new = max_new;
  o.eos_id = kEos;
  return o;
}

}  // namespace

TEST_CASE("search: greedy takes the likeliest token at each step") {
  MarkovModel m;
  auto out = generate(m, {{kBos}}, nullptr, nullptr, options(3));
  REQUIRE(out.size() == 1);
  CHECK(out[0].tokens == std::vector<int32_t>{kA, kA, kA});  // ties go to the lower id
  CHECK_FALSE(out[0].ended);
  CHECK(out[0].token_log_probs[0] == Approx(std::log(0.6)));
  CHECK(out[0].token_log_probs[1] == Approx(std::log(0.35)));
}

TEST_CASE("search: beam search finds the likeliest sequence that greedy misses") {
  MarkovModel m;
  GenerateOptions o = options();
  o.beam = 2;
  o.length_penalty = 0;  // plain log-probability
  auto out = generate(m, {{kBos}, {kBos, kA}}, nullptr, nullptr, o);
  REQUIRE(out.size() == 2);
  CHECK(out[0].tokens == std::vector<int32_t>{kB});
  CHECK(out[0].ended);
  CHECK(out[0].score == Approx(std::log(0.4 * 0.9)));
  REQUIRE(out[0].token_log_probs.size() == 2);  // B, then EOS
  CHECK(out[0].token_log_probs[1] == Approx(std::log(0.9)));
  // After a prompt ending in A, "B EOS" (0.35 x 0.9 = 0.315) beats EOS at once (0.3).
  CHECK(out[1].tokens == std::vector<int32_t>{kB});
  CHECK(out[1].score == Approx(std::log(0.35 * 0.9)));
}

TEST_CASE("search: beam scores are log P over the GNMT penalty ((5 + length) / 6)^alpha") {
  CHECK(length_penalty(1, 0.6) == Approx(1.0));
  CHECK(length_penalty(7, 1.0) == Approx(2.0));
  MarkovModel m;
  GenerateOptions o = options();
  o.beam = 3;
  o.length_penalty = 0;
  auto plain = generate(m, {{kBos, kA}}, nullptr, nullptr, o);
  CHECK(plain[0].score == Approx(std::log(0.315)));
  o.length_penalty = 1.0;  // score = log P / ((5 + len) / 6)
  auto penalised = generate(m, {{kBos, kA}}, nullptr, nullptr, o);
  const double len2 = std::log(0.315) / length_penalty(2, 1.0);
  CHECK(penalised[0].score == Approx(len2));
  CHECK(penalised[0].score >= std::log(0.3) / length_penalty(1, 1.0));
}

TEST_CASE("search: sampling follows the distribution and is reproducible from its seed") {
  MarkovModel m;
  GenerateOptions o = options(1);
  o.temperature = 1.0;
  o.seed = 7;
  const std::vector<std::vector<int32_t>> prompts(4000, std::vector<int32_t>{kBos});
  auto a = generate(m, prompts, nullptr, nullptr, o);
  auto b = generate(m, prompts, nullptr, nullptr, o);
  int64_t count_a = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].tokens == b[i].tokens);  // same seed, same samples
    count_a += a[i].tokens.at(0) == kA;
  }
  CHECK(double(count_a) / 4000 == Approx(0.6).margin(0.03));  // P(A) = 0.6
  o.seed = 8;
  auto c = generate(m, prompts, nullptr, nullptr, o);
  int64_t differ = 0;
  for (size_t i = 0; i < a.size(); ++i) differ += a[i].tokens != c[i].tokens;
  CHECK(differ > 1000);
  // A row's samples do not depend on the other rows in the batch.
  auto alone = generate(m, {{kBos}, {kBos}, {kBos}}, nullptr, nullptr, o);
  for (size_t i = 0; i < 3; ++i) CHECK(alone[i].tokens == c[i].tokens);
}

TEST_CASE("search: temperature, top-k and top-p narrow the choice") {
  MarkovModel m;
  const std::vector<std::vector<int32_t>> prompts(500, std::vector<int32_t>{kBos});
  GenerateOptions o = options(1);
  o.temperature = 1.0;
  o.top_k = 1;  // only the likeliest: greedy
  for (const auto& g : generate(m, prompts, nullptr, nullptr, o)) CHECK(g.tokens.at(0) == kA);
  o.top_k = 0;
  o.top_p = 0.5;  // A alone holds 0.6 >= 0.5
  for (const auto& g : generate(m, prompts, nullptr, nullptr, o)) CHECK(g.tokens.at(0) == kA);
  o.top_p = 1.0;
  o.temperature = 0.05;  // nearly greedy: (0.4/0.6)^20 ~ 3e-4
  int64_t b_count = 0;
  for (const auto& g : generate(m, prompts, nullptr, nullptr, o)) b_count += g.tokens.at(0) == kB;
  CHECK(b_count <= 2);
  o.temperature = 100;  // nearly uniform over A and B
  b_count = 0;
  for (const auto& g : generate(m, prompts, nullptr, nullptr, o)) b_count += g.tokens.at(0) == kB;
  CHECK(double(b_count) / 500 == Approx(0.5).margin(0.07));
}

TEST_CASE("search: bad options are named") {
  MarkovModel m;
  GenerateOptions o = options();
  o.beam = 2;
  o.temperature = 0.8;
  CHECK_THROWS_WITH(generate(m, {{kBos}}, nullptr, nullptr, o),
                    Contains("--beam or --temperature"));
  o = options();
  o.top_p = 0;
  CHECK_THROWS_WITH(generate(m, {{kBos}}, nullptr, nullptr, o), Contains("--top-p"));
  o = options();
  o.beam = 0;
  CHECK_THROWS_WITH(generate(m, {{kBos}}, nullptr, nullptr, o), Contains("--beam"));
  CHECK_THROWS_WITH(generate(m, {{}}, nullptr, nullptr, options()), Contains("at least one token"));
}

TEST_CASE("search: beam search keeps going while a live beam can still beat its endings") {
  // Two poor hypotheses end before the best one does; stopping as soon as k
  // have ended would return "B".
  LateWinnerModel m;
  GenerateOptions o = options(8);
  o.beam = 2;
  o.length_penalty = 0;
  auto out = generate(m, {{kBos}}, nullptr, nullptr, o);
  CHECK(out[0].tokens == std::vector<int32_t>{kA, kC, kD});
  CHECK(out[0].score == Approx(std::log(0.9 * 0.99 * 0.99 * 0.99)));
  o.length_penalty = 0.6;
  out = generate(m, {{kBos}}, nullptr, nullptr, o);
  CHECK(out[0].tokens == std::vector<int32_t>{kA, kC, kD});
}

TEST_CASE("search: tokens that are never text are never chosen by any search") {
  // A model that likes PAD (0.4) and BOS (0.3) best after every token.
  class SpecialLover : public MarkovModel {
   public:
    Tensor decode_cached(const IntTensor& tokens, const std::vector<int64_t>&,
                         DecodeCache&) const override {
      std::vector<double> logits;
      for (size_t i = 0; i < tokens.data.size(); ++i)
        for (double p : {0.4, 0.3, 0.05, 0.15, 0.1}) logits.push_back(std::log(p));
      return Tensor::from_vector(logits, {tokens.shape[0], tokens.shape[1], 5}, DType::F64);
    }
  } model;
  GenerateOptions o = options(4);
  o.never = {0, kBos};
  const auto greedy = generate(model, {{kBos}}, nullptr, nullptr, o)[0];
  CHECK(greedy.tokens == std::vector<int32_t>{kA, kA, kA, kA});
  for (double lp : greedy.token_log_probs) CHECK(lp == Approx(std::log(0.15)));  // the model's
  o.temperature = 1.0;
  std::map<int32_t, int> seen;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    o.seed = seed;
    const auto sampled = generate(model, {{kBos}}, nullptr, nullptr, o);
    for (int32_t t : sampled[0].tokens) ++seen[t];
  }
  CHECK(seen.count(0) == 0);
  CHECK(seen.count(kBos) == 0);
  CHECK(seen[kA] > seen[kB]);  // the rest keep their proportions
  o.temperature = 0;
  o.beam = 3;
  const auto beams = generate(model, {{kBos}}, nullptr, nullptr, o);
  for (int32_t t : beams[0].tokens) CHECK((t == kA || t == kB));
  // Without the mask, greedy would write PAD.
  o.beam = 1;
  o.never.clear();
  CHECK(generate(model, {{kBos}}, nullptr, nullptr, o)[0].tokens.front() == 0);
}
