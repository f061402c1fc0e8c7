// The rows each framing lays out for the model: which tokens, which targets,
// what padding, and what happens when a row does not fit.
#include <catch2/catch.hpp>

#include "framing/framing.h"

using namespace attnlab;
using namespace attnlab::data;
using Catch::Matchers::Contains;

namespace {

// A framing of a tiny model of `family` with a vocabulary of 64 ids (the
// rows below use ids up to 41); collation never runs the model.
std::unique_ptr<Framing> framing_of(Family family, TaskKind kind,
                                    std::vector<std::string> labels = {}) {
  std::vector<std::string> texts = {"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRST"};
  texts.insert(texts.end(), labels.begin(), labels.end());
  auto vocab = std::make_shared<Vocab>(Vocab::build(TokenizerKind::Char, texts));
  ModelConfig c = preset(family);
  c.vocab_size = vocab->size();
  c.d_model = 8;
  c.n_heads = 2;
  c.d_ff = 8;
  c.n_layers = 1;
  c.n_decoder_layers = 1;
  c.max_len = 64;
  if (!labels.empty()) c.num_classes = int64_t(labels.size());
  return make_framing({make_model(c), vocab, kind, labels});
}

EncodedExample translation(std::vector<int32_t> source, std::vector<int32_t> target) {
  return {std::move(source), std::move(target), -1};
}

}  // namespace

TEST_CASE("rows: encoder classification is [CLS] source plus padding", "[framing][rows]") {
  const auto bert = framing_of(Family::BERT, TaskKind::Classification, {"neg", "pos"});
  const std::vector<EncodedExample> examples = {{{10, 11, 12}, {}, 1}, {{20}, {}, 0}};
  const std::vector<std::size_t> indices = {1, 0};
  const FramedBatch batch = bert->collate(examples, indices);
  CHECK(batch.input.rows == 2);
  CHECK(batch.input.cols == 4);
  CHECK(batch.input.ids == std::vector<int32_t>{kClsId, 20, kPadId, kPadId, kClsId, 10, 11, 12});
  CHECK(batch.input.padding_mask == std::vector<uint8_t>{0, 0, 1, 1, 0, 0, 0, 0});
  CHECK(batch.targets == std::vector<int32_t>{0, 1});

  const std::vector<EncodedExample> unlabeled = {{{10}, {}, -1}};
  const std::vector<std::size_t> first = {0};
  CHECK_THROWS_WITH(bert->collate(unlabeled, first), Contains("example 1"));
  const std::vector<std::size_t> outside = {5};
  CHECK_THROWS_AS(bert->collate(examples, outside), std::out_of_range);
}

TEST_CASE("rows: decoder-only seq2seq predicts only the target and EOS", "[framing][rows]") {
  const auto gpt = framing_of(Family::GPT, TaskKind::Translation);
  CHECK(gpt->name() == "decoder-only seq2seq");
  const std::vector<EncodedExample> examples = {translation({10, 11}, {30, 31, 32}),
                                                translation({20}, {40})};
  const std::vector<std::size_t> indices = {0, 1};
  const FramedBatch batch = gpt->collate(examples, indices);
  const int32_t pad = kPadId;
  const int32_t ign = kIgnoreIndex;
  REQUIRE(batch.input.cols == 7);
  // Row 0: BOS s s SEP t t t   -> targets: - - - t t t EOS
  // Row 1: BOS s SEP t pad...  -> targets: - - t EOS - - -
  CHECK(batch.input.ids == std::vector<int32_t>{kBosId, 10, 11, kSepId, 30, 31, 32,  //
                                                kBosId, 20, kSepId, 40, pad, pad, pad});
  CHECK(batch.targets == std::vector<int32_t>{ign, ign, ign, 30, 31, 32, kEosId,  //
                                              ign, ign, 40, kEosId, ign, ign, ign});
  CHECK(batch.input.padding_mask == std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1});
  CHECK(batch.prefix_lengths == std::vector<int32_t>{4, 3});
  CHECK(batch.encoder.rows == 0);
}

TEST_CASE("rows: encoder-decoder seq2seq reads s EOS and writes BOS t -> t EOS",
          "[framing][rows]") {
  const auto t5 = framing_of(Family::T5, TaskKind::Translation);
  CHECK(t5->name() == "encoder-decoder seq2seq");
  const std::vector<EncodedExample> examples = {translation({10, 11, 12}, {30}),
                                                translation({20}, {40, 41})};
  const std::vector<std::size_t> indices = {0, 1};
  const FramedBatch batch = t5->collate(examples, indices);
  const int32_t pad = kPadId;
  const int32_t ign = kIgnoreIndex;
  CHECK(batch.encoder.cols == 4);
  CHECK(batch.encoder.ids == std::vector<int32_t>{10, 11, 12, kEosId, 20, kEosId, pad, pad});
  CHECK(batch.encoder.padding_mask == std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 1, 1});
  CHECK(batch.input.cols == 3);
  CHECK(batch.input.ids == std::vector<int32_t>{kBosId, 30, pad, kBosId, 40, 41});
  CHECK(batch.input.padding_mask == std::vector<uint8_t>{0, 0, 1, 0, 0, 0});
  CHECK(batch.targets == std::vector<int32_t>{30, kEosId, ign, 40, 41, kEosId});
}

TEST_CASE("rows: text-to-text classification writes the label's tokens with the model's rows",
          "[framing][rows]") {
  const std::vector<std::string> labels = {"no", "yes"};
  for (Family family : {Family::GPT, Family::T5}) {
    CAPTURE(family_name(family));
    const auto framing = framing_of(family, TaskKind::Classification, labels);
    CHECK(framing->name() == "text-to-text classification");
    const auto translation_rows = framing_of(family, TaskKind::Translation);
    const std::vector<Example> examples = {{"abc", "yes"}, {"d", "no"}};
    const std::vector<EncodedExample> encoded = framing->encode(examples);
    // The label id is kept, and its text is the target.
    CHECK(encoded[0].label == 1);
    CHECK(encoded[1].label == 0);
    CHECK(encoded[0].target.size() == 3);
    const std::vector<std::size_t> both = {0, 1};
    const FramedBatch as_label = framing->collate(encoded, both);
    const FramedBatch as_text = translation_rows->collate(encoded, both);
    CHECK(as_label.input.ids == as_text.input.ids);
    CHECK(as_label.encoder.ids == as_text.encoder.ids);
    CHECK(as_label.targets == as_text.targets);
  }
}

TEST_CASE("rows: a language model's rows are blocks of the stream and the tokens after them",
          "[framing][rows]") {
  const auto lm = framing_of(Family::GPT, TaskKind::LanguageModel);
  CHECK(lm->streams_blocks());
  std::vector<int32_t> stream;
  for (int32_t i = 0; i < 70; ++i) stream.push_back(10 + i % 30);
  const std::vector<EncodedExample> one = {{stream, {}, -1}};
  const std::vector<std::size_t> offsets = {0, 5};
  const FramedBatch batch = lm->collate(one, offsets);
  REQUIRE(batch.input.cols == 64);  // max_len: the block size
  CHECK(batch.input.id(1, 0) == stream[5]);
  CHECK(batch.targets[64 + 63] == stream[5 + 64]);
  const std::vector<std::size_t> past = {6};  // 6 + 64 + 1 > 70
  CHECK_THROWS_WITH(lm->collate(one, past), Contains("runs past the 70 tokens"));
}

TEST_CASE("rows: over-long examples are an error unless the source may be truncated",
          "[framing][rows]") {
  const auto gpt = framing_of(Family::GPT, TaskKind::Translation);
  const auto t5 = framing_of(Family::T5, TaskKind::Translation);
  const std::vector<EncodedExample> examples = {translation({1, 2}, {3}),
                                                translation({10, 11, 12, 13, 14, 15}, {30, 31})};
  const std::vector<std::size_t> indices = {0, 1};
  const LengthLimit strict{.max_len = 6};
  CHECK_NOTHROW(gpt->collate(examples, std::vector<std::size_t>{0}, strict));
  CHECK_THROWS_WITH(gpt->collate(examples, indices, strict),
                    Contains("example 2") && Contains("10 tokens") && Contains("max_len 6"));
  CHECK_THROWS_AS(t5->collate(examples, indices, strict), std::length_error);

  const LengthLimit truncate{.max_len = 6, .overflow = Overflow::TruncateSource};
  const FramedBatch lm = gpt->collate(examples, indices, truncate);
  CHECK(lm.input.cols == 6);
  CHECK(std::vector<int32_t>(lm.input.ids.begin() + 6, lm.input.ids.end()) ==
        std::vector<int32_t>{kBosId, 10, 11, kSepId, 30, 31});
  CHECK(std::vector<int32_t>(lm.targets.begin() + 6, lm.targets.end()) ==
        std::vector<int32_t>{kIgnoreIndex, kIgnoreIndex, kIgnoreIndex, 30, 31, kEosId});

  const FramedBatch seq2seq = t5->collate(examples, indices, truncate);
  CHECK(seq2seq.encoder.cols == 6);
  CHECK(seq2seq.encoder.id(1, 5) == kEosId);

  // Targets are never cut, even when truncation is allowed.
  const LengthLimit tiny{.max_len = 3, .overflow = Overflow::TruncateSource};
  CHECK_THROWS_WITH(gpt->collate(examples, indices, tiny),
                    Contains("example 2") &&
                        Contains("10 tokens (6 source + 2 target + 2 special)") &&
                        Contains("targets are never truncated"));
  CHECK_THROWS_WITH(
      t5->collate(examples, indices, {.max_len = 2, .overflow = Overflow::TruncateSource}),
      Contains("example 2") && Contains("decoder input"));
}

TEST_CASE("rows: bucketing lengths match the collated row lengths", "[framing][rows]") {
  const auto bert = framing_of(Family::BERT, TaskKind::Classification, {"a", "b"});
  const auto gpt = framing_of(Family::GPT, TaskKind::Translation);
  const auto t5 = framing_of(Family::T5, TaskKind::Translation);
  const std::vector<EncodedExample> examples = {{{1, 2, 3}, {4, 5}, 0}, {{6}, {7}, 1}};
  const LengthLimit none{};
  const LengthLimit truncate{.max_len = 4, .overflow = Overflow::TruncateSource};
  const std::vector<std::size_t> first = {0};
  CHECK(bert->row_lengths(examples, none)[0] ==
        static_cast<std::size_t>(bert->collate(examples, first, none).input.cols));
  CHECK(gpt->row_lengths(examples, none)[0] ==
        static_cast<std::size_t>(gpt->collate(examples, first, none).input.cols));
  CHECK(gpt->row_lengths(examples, truncate)[0] ==
        static_cast<std::size_t>(gpt->collate(examples, first, truncate).input.cols));
  const FramedBatch seq2seq = t5->collate(examples, first, none);
  CHECK(t5->row_lengths(examples, none)[0] ==
        static_cast<std::size_t>(seq2seq.encoder.cols + seq2seq.input.cols));
}
