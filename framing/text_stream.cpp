#include "framing/text_stream.h"

#include <fmt/format.h>

#include <stdexcept>

#include "common/errors.h"
#include "data/rng.h"

namespace attnlab {

std::vector<data::EncodedExample> TextStreamFraming::encode(
    const std::vector<data::Example>& examples) const {
  data::EncodedExample stream;
  // Counted first: a growing stream would hold two copies at times. A
  // subword tokenizer counts by encoding, which would double the work.
  if (!data::is_subword(vocab().kind())) {
    size_t tokens = 0;
    for (const data::Example& e : examples) tokens += vocab().count_tokens(e.source);
    stream.source.reserve(tokens);
  }
  for (size_t i = 0; i < examples.size(); ++i) {
    const auto ids = vocab().encode(examples[i].source, fmt::format("line {}", i + 1));
    stream.source.insert(stream.source.end(), ids.begin(), ids.end());
  }
  return {std::move(stream)};
}

void TextStreamFraming::check_lengths(std::span<const data::Example> examples, const char* split,
                                      std::span<const std::string> origins) const {
  size_t tokens = 0;
  for (size_t i = 0; i < examples.size(); ++i) {
    try {
      tokens += vocab().count_tokens(examples[i].source);
    } catch (const InputError& e) {
      throw InputError(fmt::format("{}: {}",
                                   i < origins.size()
                                       ? fmt::format("{}: the {} example", origins[i], split)
                                       : fmt::format("{} example {}", split, i + 1),
                                   e.what()));
    }
  }
  if (int64_t(tokens) < block_size() + 1)
    throw std::invalid_argument(fmt::format(
        "the {} text{} has {} tokens; a row needs block_size + 1 = {} (give more text or a "
        "smaller --block-size)",
        split, origins.empty() ? "" : fmt::format(" (from {})", origins.front()), tokens,
        block_size() + 1));
}

size_t TextStreamFraming::eval_rows(std::span<const data::EncodedExample> encoded,
                                    size_t max_examples) const {
  const size_t tokens = encoded.empty() ? 0 : encoded[0].source.size();
  const size_t blocks = tokens > 1 ? (tokens - 1) / size_t(block_size()) : 0;
  return max_examples ? std::min(max_examples, blocks) : blocks;
}

EvalMetrics TextStreamFraming::metrics(const EvalTally& t, size_t rows) const {
  EvalMetrics m;
  m.examples = int64_t(rows);
  m.loss = t.loss_count ? t.loss_sum / t.loss_count : 0.0;
  m.language_model = true;
  m.word_tokens = vocab().kind() == data::TokenizerKind::Word;
  // Bits per character count every predicted token's loss (sentinels too)
  // against the characters of text predicted.
  if (t.predicted_chars > 0) m.tokens_per_char = t.loss_count / t.predicted_chars;
  return m;
}

std::vector<int32_t> TextStreamFraming::tokens_at(std::span<const data::EncodedExample> stream,
                                                  size_t offset, size_t length) {
  const std::vector<int32_t>& tokens = stream[0].source;
  if (offset + length > tokens.size())
    throw std::out_of_range(
        fmt::format("a row of {} at {} runs past the {} tokens", length, offset, tokens.size()));
  return {tokens.begin() + int64_t(offset), tokens.begin() + int64_t(offset + length)};
}

double TextStreamFraming::chars_per_token(std::span<const data::EncodedExample> stream,
                                          std::span<const size_t> offsets, size_t length) const {
  double chars = 0;
  for (const size_t offset : offsets)
    for (const int32_t id : tokens_at(stream, offset, length)) chars += vocab().chars_of(id);
  return offsets.empty() ? 1.0 : chars / double(offsets.size() * length);
}

std::vector<size_t> TextStreamFraming::eval_offsets(std::span<const size_t> rows) const {
  std::vector<size_t> offsets;
  for (size_t r : rows) offsets.push_back(r * size_t(block_size()));
  return offsets;
}

uint64_t TextStreamFraming::row_seed(uint64_t seed, size_t offset) {
  return data::mix_seeds(seed, uint64_t(offset));
}

Tensor TextStreamFraming::share_of_batch(const Tensor& mean, std::span<const size_t> part,
                                         std::span<const size_t> whole_batch) {
  if (whole_batch.empty()) return mean;
  return mul_scalar(mean, double(part.size()) / double(whole_batch.size()));
}

void TextStreamFraming::require_predictions() const {
  throw std::invalid_argument(fmt::format(
      "a model trained on text with the {} objective has no output for an input: {}", name(),
      model().architecture() == Architecture::DecoderOnly
          ? "use attnlab generate --prompt TEXT to continue text"
          : "fine-tune it on a task (train --init-from) to predict with it"));
}

}  // namespace attnlab
