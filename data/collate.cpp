#include "data/collate.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace attnlab::data {

std::size_t kept_source_tokens(std::size_t example_index, std::size_t source_tokens,
                               std::size_t target_tokens, std::size_t specials,
                               const LengthLimit& limit, std::string_view row_name) {
  const std::size_t fixed = target_tokens + specials;
  if (limit.max_len == 0 || source_tokens + fixed <= limit.max_len) return source_tokens;
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

std::size_t row_length(std::size_t source_tokens, std::size_t fixed, const LengthLimit& limit) {
  // Truncation only ever shortens the source part, so capping the source share is enough.
  const bool truncating = limit.max_len != 0 && limit.overflow == Overflow::TruncateSource;
  if (!truncating || fixed > limit.max_len) return source_tokens + fixed;
  return std::min(source_tokens, limit.max_len - fixed) + fixed;
}

const EncodedExample& example_at(std::span<const EncodedExample> examples, std::size_t index) {
  if (index >= examples.size())
    throw std::out_of_range(
        fmt::format("batch index {} is outside the {} examples", index, examples.size()));
  return examples[index];
}

void require_rows(std::span<const std::size_t> indices) {
  if (indices.empty()) throw std::invalid_argument("cannot collate an empty batch");
}

Batch pad_rows(const std::vector<std::vector<int32_t>>& rows) {
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

std::vector<int32_t> pad_targets(const std::vector<std::vector<int32_t>>& rows, int64_t cols) {
  std::vector<int32_t> targets(rows.size() * cols, kIgnoreIndex);
  for (std::size_t r = 0; r < rows.size(); ++r)
    std::copy(rows[r].begin(), rows[r].end(), targets.begin() + static_cast<int64_t>(r) * cols);
  return targets;
}

}  // namespace attnlab::data
