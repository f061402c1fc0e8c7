// What the masks mean, proven on whole models (float64, dropout off):
// future tokens never affect the past; padding never affects real tokens.
#include <catch2/catch.hpp>

#include "models/gradcheck_models.h"

using namespace attnlab;

namespace {

constexpr double kTol = 1e-12;

ModelConfig test_config(Family f) {
  ModelConfig c = tiny_config(f);
  c.n_layers = 2;
  c.n_decoder_layers = 2;
  c.max_len = 16;
  return c;
}

IntTensor ids_of(std::vector<std::vector<int32_t>> rows, int64_t t) {
  IntTensor ids{{int64_t(rows.size()), t}, {}};
  for (auto& r : rows)
    for (int64_t j = 0; j < t; ++j)
      ids.data.push_back(j < int64_t(r.size()) ? r[j] : 6);  // 6: junk in padding
  return ids;
}

Mask mask_of(std::vector<int64_t> lengths, int64_t t) {
  Mask m{{int64_t(lengths.size()), t}, {}};
  for (int64_t len : lengths)
    for (int64_t j = 0; j < t; ++j) m.blocked.push_back(j >= len);
  return m;
}

// Max |a - b| over row b_row, positions [0, len), all features, of (B,T,F) tensors.
double max_diff(const Tensor& a, int64_t arow, const Tensor& b, int64_t brow, int64_t len) {
  REQUIRE(a.size(-1) == b.size(-1));
  const int64_t f = a.size(-1), ta = a.size(1), tb = b.size(1);
  double worst = 0;
  for (int64_t t = 0; t < len; ++t)
    for (int64_t k = 0; k < f; ++k)
      worst = std::max(worst,
                       std::abs(a.item((arow * ta + t) * f + k) - b.item((brow * tb + t) * f + k)));
  return worst;
}

}  // namespace

TEST_CASE("masks: GPT output at positions < j ignores the token at j") {
  GptModel gpt(test_config(Family::GPT));
  IntTensor ids = ids_of({{1, 2, 3, 4, 5, 1}}, 6);
  Tensor before = gpt.decode(ids, nullptr);
  for (int64_t j = 1; j < 6; ++j) {
    IntTensor changed = ids;
    changed.data[j] = (changed.data[j] + 3) % 7;
    Tensor after = gpt.decode(changed, nullptr);
    INFO("changed position " << j);
    CHECK(max_diff(before, 0, after, 0, j) < kTol);
    CHECK(max_diff(before, 0, after, 0, 6) > 1e-6);  // the change is visible from j on
  }
}

TEST_CASE("masks: T5 decoder output at positions < j ignores the target token at j") {
  T5Model t5(test_config(Family::T5));
  IntTensor src = ids_of({{1, 2, 3, 4}}, 4);
  IntTensor tgt = ids_of({{1, 5, 4, 3, 2}}, 5);
  Tensor memory = t5.encode(src, nullptr);
  Tensor before = t5.decode(tgt, nullptr, &memory, nullptr);
  for (int64_t j = 1; j < 5; ++j) {
    IntTensor changed = tgt;
    changed.data[j] = (changed.data[j] + 2) % 7;
    Tensor after = t5.decode(changed, nullptr, &memory, nullptr);
    INFO("changed target position " << j);
    CHECK(max_diff(before, 0, after, 0, j) < kTol);
    CHECK(max_diff(before, 0, after, 0, 5) > 1e-6);
  }
}

TEST_CASE("masks: BERT outputs at real tokens ignore added padding") {
  BertModel bert(test_config(Family::BERT));
  IntTensor short_ids = ids_of({{1, 2, 3, 4}}, 4);
  IntTensor padded = ids_of({{1, 2, 3, 4}}, 7);
  Mask pad = mask_of({4}, 7);
  Tensor a = bert.encode(short_ids, nullptr), b = bert.encode(padded, &pad);
  CHECK(max_diff(a, 0, b, 0, 4) < kTol);
  // Without the mask the padding would leak in: the test can fail.
  CHECK(max_diff(a, 0, bert.encode(padded, nullptr), 0, 4) > 1e-6);
  CHECK(std::abs(bert.classify(short_ids, nullptr).item(0) - bert.classify(padded, &pad).item(0)) <
        kTol);
}

TEST_CASE("masks: a padded batch equals the same sequences run one by one") {
  BertModel bert(test_config(Family::BERT));
  GptModel gpt(test_config(Family::GPT));
  IntTensor batch = ids_of({{1, 2, 3, 4, 5}, {5, 4}, {2, 3, 1}}, 5);
  Mask pad = mask_of({5, 2, 3}, 5);
  Tensor eb = bert.encode(batch, &pad), gb = gpt.decode(batch, &pad);
  std::vector<std::vector<int32_t>> rows = {{1, 2, 3, 4, 5}, {5, 4}, {2, 3, 1}};
  for (int64_t r = 0; r < 3; ++r) {
    IntTensor one = ids_of({rows[r]}, int64_t(rows[r].size()));
    INFO("row " << r);
    CHECK(max_diff(eb, r, bert.encode(one, nullptr), 0, rows[r].size()) < kTol);
    CHECK(max_diff(gb, r, gpt.decode(one, nullptr), 0, rows[r].size()) < kTol);
  }
}

TEST_CASE("masks: T5 encoder and decoder ignore encoder padding") {
  T5Model t5(test_config(Family::T5));
  IntTensor src = ids_of({{1, 2, 3}}, 3), src_padded = ids_of({{1, 2, 3}}, 6);
  Mask src_pad = mask_of({3}, 6);
  IntTensor tgt = ids_of({{1, 4, 5, 2}}, 4);
  Tensor m1 = t5.encode(src, nullptr), m2 = t5.encode(src_padded, &src_pad);
  CHECK(max_diff(m1, 0, m2, 0, 3) < kTol);
  // The decoder cross-attends to the padded encoder output.
  Tensor d1 = t5.decode(tgt, nullptr, &m1, nullptr), d2 = t5.decode(tgt, nullptr, &m2, &src_pad);
  CHECK(max_diff(d1, 0, d2, 0, 4) < kTol);
  CHECK(max_diff(d1, 0, t5.decode(tgt, nullptr, &m2, nullptr), 0, 4) > 1e-6);
  // Decoder padding too: a padded target batch equals the unpadded one.
  IntTensor tgt_padded = ids_of({{1, 4, 5, 2}}, 6);
  Mask tgt_pad = mask_of({4}, 6);
  CHECK(max_diff(d1, 0, t5.decode(tgt_padded, &tgt_pad, &m1, nullptr), 0, 4) < kTol);
}

TEST_CASE("masks: Perceiver latents ignore a padded input") {
  PerceiverModel p(test_config(Family::Perceiver));
  IntTensor ids = ids_of({{3, 1, 4, 1, 5}}, 5), padded = ids_of({{3, 1, 4, 1, 5}}, 9);
  Mask pad = mask_of({5}, 9);
  Tensor a = p.latents(ids, nullptr), b = p.latents(padded, &pad);
  CHECK(max_diff(a, 0, b, 0, a.size(1)) < kTol);
  CHECK(max_diff(a, 0, p.latents(padded, nullptr), 0, a.size(1)) > 1e-6);
}

TEST_CASE("masks: cross-attention weights are (B,H,T_dec,T_enc), rows sum to 1, padding gets 0") {
  ModelConfig c = test_config(Family::T5);
  T5Model t5(c);
  IntTensor src = ids_of({{1, 2, 3, 4, 5}, {2, 3}}, 5);
  Mask src_pad = mask_of({5, 2}, 5);
  IntTensor tgt = ids_of({{1, 2, 3}, {1, 4, 4}}, 3);
  std::vector<BlockAttention> attn;
  const Tensor memory = t5.encode(src, &src_pad);
  t5.decode(tgt, nullptr, &memory, &src_pad, &attn);
  REQUIRE(attn.size() == size_t(c.n_decoder_layers));
  for (const BlockAttention& layer : attn) {
    const Tensor& w = layer.cross_weights;
    REQUIRE(w.shape() == Shape{2, c.n_heads, 3, 5});
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t h = 0; h < c.n_heads; ++h)
        for (int64_t q = 0; q < 3; ++q) {
          double row = 0;
          for (int64_t k = 0; k < 5; ++k) {
            double v = w.item(((b * c.n_heads + h) * 3 + q) * 5 + k);
            row += v;
            if (b == 1 && k >= 2) CHECK(v == 0.0);  // exactly zero on encoder padding
          }
          CHECK(row == Approx(1.0).epsilon(1e-12));
        }
    // Causal self-attention weights: nothing above the diagonal.
    const Tensor& s = layer.self_weights;
    REQUIRE(s.shape() == Shape{2, c.n_heads, 3, 3});
    for (int64_t i = 0; i < s.numel(); ++i) {
      int64_t q = (i / 3) % 3, k = i % 3;
      if (k > q) CHECK(s.item(i) == 0.0);
    }
  }
}
