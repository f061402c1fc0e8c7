// Padded batches: the mechanics every framing (framing/) uses to lay its rows
// out. Padding uses kPadId (0) in id arrays and kIgnoreIndex (-100, as in
// PyTorch's cross-entropy) in target arrays, so padded positions never
// contribute to the loss. Which tokens a row holds (BOS, SEP, [CLS], ...) is
// each framing's own business.
//
// Length limits (LengthLimit::max_len, 0 = unlimited) apply to each padded
// row. A longer row is an error (std::length_error naming the example and its
// length) unless the caller asks for Overflow::TruncateSource, which drops
// tokens from the end of the source. Targets are never truncated: a shortened
// target would silently teach the model a wrong answer, so a target that does
// not fit is an error in both modes.
#pragma once

#include "data/encoding.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace attnlab::data {

inline constexpr int32_t kIgnoreIndex = -100;

struct Batch {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<int32_t> ids;           // rows * cols, row-major; kPadId in padding
  std::vector<uint8_t> padding_mask;  // rows * cols; 1 = padding, 0 = real token

  int32_t id(int64_t row, int64_t col) const { return ids[row * cols + col]; }
  bool is_padding(int64_t row, int64_t col) const { return padding_mask[row * cols + col] != 0; }
};

enum class Overflow { Error, TruncateSource };

struct LengthLimit {
  std::size_t max_len = 0;  // 0: no limit
  Overflow overflow = Overflow::Error;
};

// Pads `rows` to the longest one.
Batch pad_rows(const std::vector<std::vector<int32_t>>& rows);

// Lays `rows` out on a rows x cols grid filled with kIgnoreIndex.
std::vector<int32_t> pad_targets(const std::vector<std::vector<int32_t>>& rows, int64_t cols);

// How many of a source's tokens fit into a row that also holds
// `target_tokens` and `specials` (the row is called `row_name` in the error);
// throws std::length_error when the source would have to be cut but `limit`
// does not allow it, or when even an empty source does not fit.
std::size_t kept_source_tokens(std::size_t example_index, std::size_t source_tokens,
                               std::size_t target_tokens, std::size_t specials,
                               const LengthLimit& limit, std::string_view row_name);

// The row length of a source and `fixed` other tokens after truncation, if
// `limit` asks for it (what batches are bucketed by).
std::size_t row_length(std::size_t source_tokens, std::size_t fixed, const LengthLimit& limit);

// examples[index], or std::out_of_range naming the index.
const EncodedExample& example_at(std::span<const EncodedExample> examples, std::size_t index);

// std::invalid_argument for an empty batch.
void require_rows(std::span<const std::size_t> indices);

}  // namespace attnlab::data
