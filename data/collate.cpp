#include "data/collate.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace attnlab::data {
namespace {

// Specials added around the source and target in each layout (see collate.h).
constexpr std::size_t kClassifierSourceSpecials = 1;  // CLS
constexpr std::size_t kPrefixLmSpecials = 2;          // BOS, SEP (EOS is only a target)
constexpr std::size_t kEncoderSpecials = 1;           // EOS
constexpr std::size_t kDecoderSpecials = 1;           // BOS in the input, EOS in the target

bool unlimited(const LengthLimit& limit) {
  return limit.max_len == 0;
}

// How many source tokens fit into a row that also holds `target_tokens` and `specials`; throws
// when the source would have to be cut but the caller did not allow it, or when even an empty
// source does not fit (targets are never cut).
std::size_t kept_source_tokens(std::size_t example_index, std::size_t source_tokens,
                               std::size_t target_tokens, std::size_t specials,
                               const LengthLimit& limit, std::string_view row_name) {
  const std::size_t fixed = target_tokens + specials;
  if (unlimited(limit) || source_tokens + fixed <= limit.max_len) return source_tokens;
  const bool target_fits = fixed <= limit.max_len;
  if (limit.overflow == Overflow::TruncateSource && target_fits) return limit.max_len - fixed;
  throw std::length_error(fmt::format(
      "example {}: the {} has {} tokens ({} source + {} target + {} special), more than max_len "
      "{}; {}",
      example_index + 1, row_name, source_tokens + fixed, source_tokens, target_tokens, specials,
      limit.max_len,
      target_fits ? "raise max_len (--max-len) or allow truncating the source"
                  : "the target does not fit and targets are never truncated; raise max_len "
                    "(--max-len)"));
}

const EncodedExample& example_at(std::span<const EncodedExample> examples, std::size_t index) {
  if (index >= examples.size()) {
    throw std::out_of_range(
        fmt::format("batch index {} is outside the {} examples", index, examples.size()));
  }
  return examples[index];
}

void require_rows(std::span<const std::size_t> indices) {
  if (indices.empty()) throw std::invalid_argument("cannot collate an empty batch");
}

// Pads `rows` to the longest one.
Batch pad(const std::vector<std::vector<int32_t>>& rows) {
  Batch batch;
  batch.rows = static_cast<int64_t>(rows.size());
  for (const auto& row : rows) batch.cols = std::max(batch.cols, static_cast<int64_t>(row.size()));
  batch.ids.assign(batch.rows * batch.cols, kPadId);
  batch.padding_mask.assign(batch.rows * batch.cols, 1);
  for (int64_t r = 0; r < batch.rows; ++r) {
    std::copy(rows[r].begin(), rows[r].end(), batch.ids.begin() + r * batch.cols);
    std::fill_n(batch.padding_mask.begin() + r * batch.cols, rows[r].size(), uint8_t{0});
  }
  return batch;
}

// Lays `rows` out on a rows x cols grid filled with kIgnoreIndex.
std::vector<int32_t> pad_targets(const std::vector<std::vector<int32_t>>& rows, int64_t cols) {
  std::vector<int32_t> targets(rows.size() * cols, kIgnoreIndex);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    std::copy(rows[r].begin(), rows[r].end(), targets.begin() + static_cast<int64_t>(r) * cols);
  }
  return targets;
}

void append_prefix(std::vector<int32_t>& row, const std::vector<int32_t>& tokens, std::size_t n) {
  row.insert(row.end(), tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(n));
}

}  // namespace

ClassificationBatch collate_classification(std::span<const EncodedExample> examples,
                                           std::span<const std::size_t> indices,
                                           const LengthLimit& limit) {
  require_rows(indices);
  std::vector<std::vector<int32_t>> rows;
  ClassificationBatch batch;
  for (const std::size_t index : indices) {
    const EncodedExample& example = example_at(examples, index);
    if (example.label < 0) {
      throw std::invalid_argument(fmt::format("example {} has no class label", index + 1));
    }
    const std::size_t kept = kept_source_tokens(index, example.source.size(), 0,
                                                kClassifierSourceSpecials, limit, "input");
    std::vector<int32_t>& row = rows.emplace_back();
    row.push_back(kClsId);
    append_prefix(row, example.source, kept);
    batch.labels.push_back(example.label);
  }
  batch.input = pad(rows);
  return batch;
}

PrefixLmBatch collate_prefix_lm(std::span<const EncodedExample> examples,
                                std::span<const std::size_t> indices, const LengthLimit& limit) {
  require_rows(indices);
  std::vector<std::vector<int32_t>> inputs;
  std::vector<std::vector<int32_t>> targets;
  PrefixLmBatch batch;
  for (const std::size_t index : indices) {
    const EncodedExample& example = example_at(examples, index);
    const std::size_t kept = kept_source_tokens(index, example.source.size(), example.target.size(),
                                                kPrefixLmSpecials, limit, "prefix-LM input");
    std::vector<int32_t>& input = inputs.emplace_back();
    input.push_back(kBosId);
    append_prefix(input, example.source, kept);
    input.push_back(kSepId);
    const std::size_t prefix_length = input.size();
    input.insert(input.end(), example.target.begin(), example.target.end());

    // Position p predicts input[p + 1]; only SEP and the target positions predict anything.
    std::vector<int32_t>& target = targets.emplace_back(prefix_length - 1, kIgnoreIndex);
    target.insert(target.end(), example.target.begin(), example.target.end());
    target.push_back(kEosId);
    batch.prefix_lengths.push_back(static_cast<int32_t>(prefix_length));
  }
  batch.input = pad(inputs);
  batch.targets = pad_targets(targets, batch.input.cols);
  return batch;
}

Seq2SeqBatch collate_seq2seq(std::span<const EncodedExample> examples,
                             std::span<const std::size_t> indices, const LengthLimit& limit) {
  require_rows(indices);
  std::vector<std::vector<int32_t>> encoder_rows;
  std::vector<std::vector<int32_t>> decoder_rows;
  std::vector<std::vector<int32_t>> target_rows;
  for (const std::size_t index : indices) {
    const EncodedExample& example = example_at(examples, index);
    const std::size_t kept = kept_source_tokens(index, example.source.size(), 0, kEncoderSpecials,
                                                limit, "encoder input");
    // The decoder row holds no source, so nothing can be cut there and any overflow throws.
    kept_source_tokens(index, 0, example.target.size(), kDecoderSpecials, limit, "decoder input");

    std::vector<int32_t>& encoder = encoder_rows.emplace_back();
    append_prefix(encoder, example.source, kept);
    encoder.push_back(kEosId);

    std::vector<int32_t>& decoder = decoder_rows.emplace_back();
    decoder.push_back(kBosId);
    decoder.insert(decoder.end(), example.target.begin(), example.target.end());

    std::vector<int32_t>& target = target_rows.emplace_back(example.target);
    target.push_back(kEosId);
  }
  Seq2SeqBatch batch;
  batch.encoder = pad(encoder_rows);
  batch.decoder = pad(decoder_rows);
  batch.targets = pad_targets(target_rows, batch.decoder.cols);
  return batch;
}

std::vector<std::size_t> sequence_lengths(std::span<const EncodedExample> examples, Layout layout,
                                          const LengthLimit& limit) {
  const bool truncating = !unlimited(limit) && limit.overflow == Overflow::TruncateSource;
  // Truncation only ever shortens the source part, so capping the source share is enough.
  auto capped = [&](std::size_t source, std::size_t fixed) {
    if (!truncating || fixed > limit.max_len) return source + fixed;
    return std::min(source, limit.max_len - fixed) + fixed;
  };
  std::vector<std::size_t> lengths;
  lengths.reserve(examples.size());
  for (const EncodedExample& example : examples) {
    switch (layout) {
      case Layout::EncoderClassifier:
        lengths.push_back(capped(example.source.size(), kClassifierSourceSpecials));
        break;
      case Layout::PrefixLm:
        lengths.push_back(capped(example.source.size(), example.target.size() + kPrefixLmSpecials));
        break;
      case Layout::EncoderDecoder:
        lengths.push_back(capped(example.source.size(), kEncoderSpecials) + example.target.size() +
                          kDecoderSpecials);
        break;
    }
  }
  return lengths;
}

}  // namespace attnlab::data
