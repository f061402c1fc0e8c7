// Cached decoding: the KV-cache path gives what full recomputation gives, for
// GPT and T5, learned and relative positions, rows of different lengths.
#include <catch2/catch.hpp>
#include <cmath>

#include <set>
#include "framing/framing.h"
#include "layers/attention.h"
#include "models/model.h"

using namespace attnlab;
using Catch::Matchers::Contains;

namespace {

ModelConfig small(Family f, DType dtype = DType::F32) {
  ModelConfig c = preset(f);
  c.vocab_size = 23;
  c.d_model = 32;
  c.n_heads = 4;
  c.d_ff = 48;
  c.n_layers = 2;
  c.n_decoder_layers = 2;
  c.max_len = 40;
  c.dropout = 0.1;  // off in eval mode: decoding must not depend on it
  c.dtype = dtype;
  c.relative_buckets = 8;
  c.relative_max_distance = 16;
  // Large weights, so that an untrained model's output depends strongly on
  // every token and position: with the presets' small weights the decoder's
  // own tokens barely move T5's output, and a wrong cache or position bias
  // would change the log-probabilities by less than the tolerance.
  c.init_std = 0.3;
  c.embedding_std = 1.0;
  c.scale_scores = true;
  return c;
}

IntTensor padded(const std::vector<std::vector<int32_t>>& rows, Mask* padding) {
  size_t cols = 0;
  for (const auto& r : rows) cols = std::max(cols, r.size());
  IntTensor ids{{int64_t(rows.size()), int64_t(cols)}, std::vector<int32_t>(rows.size() * cols, 0)};
  padding->shape = {int64_t(rows.size()), int64_t(cols)};
  padding->blocked.assign(rows.size() * cols, 1);
  for (size_t i = 0; i < rows.size(); ++i)
    for (size_t j = 0; j < rows[i].size(); ++j) {
      ids.data[i * cols + j] = rows[i][j];
      padding->blocked[i * cols + j] = 0;
    }
  return ids;
}

// Values in [-1, 1) from a fixed sequence, in the given dtype.
Tensor filled(const Shape& shape, uint64_t seed, DType dtype) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  std::vector<double> v(static_cast<size_t>(n));
  uint64_t x = seed * 2654435761u + 1;
  for (double& e : v) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    e = double(x >> 11) / double(1ull << 53) * 2 - 1;
  }
  return Tensor::from_vector(v, shape, dtype);
}

// log-softmax of logits row (.., V) at flat offset
std::vector<double> log_probs(const Tensor& logits, int64_t offset, int64_t v) {
  std::vector<double> out(static_cast<size_t>(v));
  double top = -1e300, total = 0;
  for (int64_t k = 0; k < v; ++k) top = std::max(top, logits.item(offset + k));
  for (int64_t k = 0; k < v; ++k) total += std::exp(logits.item(offset + k) - top);
  for (int64_t k = 0; k < v; ++k) out[size_t(k)] = logits.item(offset + k) - top - std::log(total);
  return out;
}

// Greedy decoding of `steps` tokens twice, cached and by full recomputation,
// comparing every step's next-token log-probabilities; returns the largest
// difference. Decoder prompts have different lengths per row.
double compare_decoding(const Model& model, std::vector<std::vector<int32_t>> seqs,
                        const Tensor* memory, const Mask* memory_padding, int steps) {
  NoGradGuard no_grad;
  const int64_t b = int64_t(seqs.size()), v = model.config().vocab_size;
  DecodeCache cache = model.start_decoding(b, model.config().max_len, memory, memory_padding);
  // Prefill: every prompt at once, right-padded (the padded tail is written
  // into the cache and overwritten as the row grows).
  Mask pad;
  IntTensor prompt = padded(seqs, &pad);
  Tensor logits = model.decode_cached(prompt, std::vector<int64_t>(size_t(b), 0), cache);
  std::vector<int64_t> last_offset(static_cast<size_t>(b));
  for (int64_t r = 0; r < b; ++r)
    last_offset[size_t(r)] = (r * prompt.shape[1] + int64_t(seqs[size_t(r)].size()) - 1) * v;
  double worst = 0;
  for (int step = 0; step < steps; ++step) {
    Mask full_pad;
    IntTensor full = padded(seqs, &full_pad);
    Tensor reference = model.decode(full, &full_pad, memory, memory_padding);  // (B,T,V)
    IntTensor next{{b, 1}, std::vector<int32_t>(size_t(b))};
    std::vector<int64_t> start(static_cast<size_t>(b));
    for (int64_t r = 0; r < b; ++r) {
      const auto& row = seqs[size_t(r)];
      const auto cached = log_probs(logits, last_offset[size_t(r)], v);
      const auto recomputed =
          log_probs(reference, (r * full.shape[1] + int64_t(row.size()) - 1) * v, v);
      int32_t best = 0;
      for (int64_t k = 0; k < v; ++k) {
        worst = std::max(worst, std::abs(cached[size_t(k)] - recomputed[size_t(k)]));
        if (recomputed[size_t(k)] > recomputed[size_t(best)]) best = int32_t(k);
      }
      next.data[size_t(r)] = best;
      start[size_t(r)] = int64_t(row.size());
      seqs[size_t(r)].push_back(best);
    }
    logits = model.decode_cached(next, start, cache);  // (B,1,V)
    for (int64_t r = 0; r < b; ++r) last_offset[size_t(r)] = r * v;
  }
  return worst;
}

}  // namespace

TEST_CASE("decode: cached attention equals attention over the visible keys") {
  for (DType dtype : {DType::F64, DType::F32}) {
    const int64_t b = 2, h = 3, tq = 2, d = 4, capacity = 9;
    KVCache cache{filled({b, h, capacity, d}, 1, dtype), filled({b, h, capacity, d}, 2, dtype)};
    Tensor q = filled({b, h, tq, d}, 3, dtype);
    // row 0's queries at positions 4, 5; row 1's at 6, 7 (causal): Tk = 8
    CachedKeys keys{{5, 6, 7, 8}, nullptr};
    Tensor bias = filled({1, h, tq, 8}, 4, dtype);
    Tensor fast = cached_attention(q, cache, keys, 0.5, &bias);
    // Reference: the first 8 positions, with a mask hiding what each query may not see.
    Tensor k8 = slice(cache.keys, 2, 0, 8), v8 = slice(cache.values, 2, 0, 8);
    Mask causal{{b, 1, tq, 8}, std::vector<uint8_t>(size_t(b * tq * 8), 0)};
    for (int64_t r = 0; r < b; ++r)
      for (int64_t i = 0; i < tq; ++i)
        for (int64_t j = keys.visible[size_t(r * tq + i)]; j < 8; ++j)
          causal.blocked[size_t((r * tq + i) * 8 + j)] = 1;
    Tensor scores = add(mul_scalar(matmul(q, k8, false, true), 0.5), bias);
    Tensor reference =
        matmul(softmax(masked_fill(scores, causal, -std::numeric_limits<double>::infinity())), v8);
    const double tol = dtype == DType::F64 ? 1e-12 : 1e-6;
    for (int64_t i = 0; i < fast.numel(); ++i)
      CHECK(std::abs(fast.item(i) - reference.item(i)) < tol);
  }
}

TEST_CASE("decode: cached GPT decoding gives full recomputation's log-probabilities") {
  for (PositionScheme positions : {PositionScheme::Learned, PositionScheme::Relative}) {
    ModelConfig c = small(Family::GPT);
    c.positions = positions;
    auto model = make_model(c);
    model->train(false);
    INFO(enum_name(kPositionNames, positions));
    // Prompts of different lengths: each row decodes at its own positions.
    const double worst = compare_decoding(*model, {{1, 5, 6, 7, 8, 9}, {1, 4}, {1, 10, 11, 12}},
                                          nullptr, nullptr, 12);
    // float32 log-probabilities of magnitude ~5 over 12 steps: the cached path
    // sums its softmax in double, the full one in float with a vectorised exp.
    CHECK(worst < 3e-5);
  }
}

TEST_CASE("decode: cached T5 decoding gives full recomputation's log-probabilities") {
  for (PositionScheme positions : {PositionScheme::Relative, PositionScheme::Learned}) {
    ModelConfig c = small(Family::T5);
    c.positions = positions;
    auto model = make_model(c);
    model->train(false);
    INFO(enum_name(kPositionNames, positions));
    NoGradGuard no_grad;
    // Sources of different lengths: the cross-attention must hide the padding.
    Mask src_pad;
    IntTensor src = padded({{5, 6, 7, 8, 9, 2}, {4, 2}, {10, 11, 12, 2}}, &src_pad);
    Tensor memory = model->encode(src, &src_pad);
    const double worst = compare_decoding(*model, {{1}, {1}, {1}}, &memory, &src_pad, 12);
    CHECK(worst < 1e-5);
  }
}

TEST_CASE("decode: float64 cached decoding matches to rounding") {
  for (Family f : {Family::GPT, Family::T5}) {
    auto model = make_model(small(f, DType::F64));
    model->train(false);
    NoGradGuard no_grad;
    Mask src_pad;
    IntTensor src = padded({{5, 6, 7, 2}, {4, 2}}, &src_pad);
    Tensor memory;
    if (f == Family::T5) memory = model->encode(src, &src_pad);
    const double worst =
        compare_decoding(*model, {{1, 3}, {1}}, f == Family::T5 ? &memory : nullptr,
                         f == Family::T5 ? &src_pad : nullptr, 8);
    CHECK(worst < 1e-10);
  }
}

TEST_CASE("decode: errors name the problem") {
  auto gpt = make_model(small(Family::GPT));
  CHECK_THROWS_WITH(gpt->start_decoding(2, 100), Contains("100 tokens") && Contains("max_len"));
  DecodeCache cache = gpt->start_decoding(1, 4);
  IntTensor five{{1, 5}, {1, 2, 3, 4, 5}};
  CHECK_THROWS_WITH(gpt->decode_cached(five, {0}, cache), Contains("cache holds 4"));
  auto bert = make_model(small(Family::BERT));
  CHECK_THROWS_WITH(bert->start_decoding(1, 4), Contains("only GPT and T5 generate"));
  auto t5 = make_model(small(Family::T5));
  CHECK_THROWS_WITH(t5->start_decoding(1, 4), Contains("needs the encoder output"));
}

TEST_CASE("decode: the framing's cached greedy decoding predicts what recomputation predicts") {
  const std::vector<std::string> texts = {"3 March 2021", "12/01/99",       "Jan 5 1960",
                                          "2049-12-31",   "wed 7 jul 2010", "x"};
  std::vector<std::string> vocab_texts = texts;
  vocab_texts.push_back("abcdefghijklmnopqrstuvwxyz0123456789-/ ");
  auto vocab =
      std::make_shared<data::Vocab>(data::Vocab::build(data::TokenizerKind::Char, vocab_texts));
  for (const auto& [f, prefix_lm] : std::vector<std::pair<Family, bool>>{
           {Family::GPT, false}, {Family::GPT, true}, {Family::T5, false}}) {
    INFO(family_name(f) << (prefix_lm ? " prefix LM" : ""));
    ModelConfig c = small(f);
    c.vocab_size = vocab->size();
    c.prefix_lm = prefix_lm;  // the prompt is read both ways, in the prefill and recomputed
    auto model = make_model(c);
    auto w = make_framing({model, vocab, data::TaskKind::Translation, {}});
    const auto cached = w->predict(texts, 4);  // batches of 4 and 2
    w->set_decode_mode(DecodeMode::Recompute);
    const auto full = w->predict(texts, 4);
    REQUIRE(cached.size() == full.size());
    std::set<size_t> lengths;
    for (size_t i = 0; i < texts.size(); ++i) {
      INFO(texts[i]);
      CHECK(cached[i].tokens == full[i].tokens);
      REQUIRE(cached[i].token_log_probs.size() == full[i].token_log_probs.size());
      for (size_t t = 0; t < full[i].token_log_probs.size(); ++t)
        CHECK(std::abs(cached[i].token_log_probs[t] - full[i].token_log_probs[t]) < 1e-5);
      lengths.insert(full[i].tokens.size());
    }
    // GPT's rows start at different lengths and reach max_len at different
    // steps, so finished rows left the cache (T5's: see the keep_rows test).
    if (f == Family::GPT) CHECK(lengths.size() >= 2);
  }
}

TEST_CASE("decode: dropping finished rows from a T5 cache leaves the other rows' results") {
  auto model = make_model(small(Family::T5));
  model->train(false);
  NoGradGuard no_grad;
  Mask src_pad;
  IntTensor src = padded({{5, 6, 7, 8, 9, 2}, {4, 2}, {10, 11, 12, 2}}, &src_pad);
  Tensor memory = model->encode(src, &src_pad);
  const int64_t v = model->config().vocab_size;
  DecodeCache cache = model->start_decoding(3, 10, &memory, &src_pad);
  model->decode_cached(IntTensor{{3, 2}, {1, 3, 1, 4, 1, 5}}, {0, 0, 0}, cache);
  cache.keep_rows({2, 0});  // row 1 finished; rows 2 and 0 go on, in that order
  Tensor kept = model->decode_cached(IntTensor{{2, 1}, {6, 7}}, {2, 2}, cache);  // (2,1,V)
  // The same rows decoded alone, from scratch.
  for (int64_t slot = 0; slot < 2; ++slot) {
    const int64_t row = slot == 0 ? 2 : 0;
    Mask one_pad{{1, 6},
                 std::vector<uint8_t>(src_pad.blocked.begin() + row * 6,
                                      src_pad.blocked.begin() + (row + 1) * 6)};
    IntTensor one_src{
        {1, 6}, std::vector<int32_t>(src.data.begin() + row * 6, src.data.begin() + (row + 1) * 6)};
    Tensor one_memory = model->encode(one_src, &one_pad);
    const int32_t second = row == 2 ? 5 : 3, third = row == 2 ? 6 : 7;
    Tensor alone = model->decode(IntTensor{{1, 3}, {1, second, third}}, nullptr, &one_memory,
                                 &one_pad);  // (1,3,V)
    for (int64_t k = 0; k < v; ++k)
      CHECK(std::abs(kept.item(slot * v + k) - alone.item(2 * v + k)) < 1e-4);
  }
}

TEST_CASE("decode: a prefix LM reads its prefix both ways and the rest causally") {
  ModelConfig c = small(Family::GPT);
  c.prefix_lm = true;
  auto model = make_model(c);
  model->train(false);
  NoGradGuard no_grad;
  const int64_t v = c.vocab_size;
  const IntTensor ids{{1, 10}, {1, 5, 6, 7, 8, 9, 10, 11, 12, 13}};
  // The largest change of the logits at `position` when `ids` become `other`.
  const auto change = [&](const IntTensor& other, int64_t position, bool prefix) {
    const Tensor a = prefix ? model->decode_prefix(ids, nullptr, {5}) : model->decode(ids, nullptr);
    const Tensor b =
        prefix ? model->decode_prefix(other, nullptr, {5}) : model->decode(other, nullptr);
    double worst = 0;
    for (int64_t k = 0; k < v; ++k)
      worst = std::max(worst, std::abs(a.item(position * v + k) - b.item(position * v + k)));
    return worst;
  };
  IntTensor in_prefix = ids;
  in_prefix.data[3] = 20;                    // a later prefix token ...
  CHECK(change(in_prefix, 1, true) > 1e-3);  // ... changes an earlier prefix position
  CHECK(change(in_prefix, 1, false) == 0);   // only with the prefix read both ways
  IntTensor in_rest = ids;
  in_rest.data[7] = 20;  // a token after the prefix ...
  for (int64_t position = 0; position < 7; ++position) {
    INFO(position);
    CHECK(change(in_rest, position, true) == 0);  // ... never reaches back
  }
  CHECK(change(in_rest, 8, true) > 1e-3);
  // A prefix of one token is plain causal reading.
  const Tensor causal = model->decode(ids, nullptr), one = model->decode_prefix(ids, nullptr, {1});
  for (int64_t i = 0; i < causal.numel(); ++i)
    REQUIRE(std::abs(causal.item(i) - one.item(i)) < 1e-6);
  // Only a model built as a prefix LM has one.
  CHECK_THROWS_WITH(make_model(small(Family::GPT))->decode_prefix(ids, nullptr, {5}),
                    Contains("prefix_lm=true"));
  ModelConfig t5 = small(Family::T5);
  t5.prefix_lm = true;
  CHECK_THROWS_WITH(validate(t5), Contains("only a decoder-only model (gpt)"));
}
