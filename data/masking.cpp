#include "data/masking.h"

#include <fmt/format.h>

#include <stdexcept>

#include "data/tokenizer.h"

namespace attnlab::data {

MaskedBatch mask_tokens(const Batch& input, std::span<const uint64_t> row_seeds, int32_t vocab_size,
                        int32_t mask_id, double rate, int64_t skip_prefix) {
  if (!(rate > 0 && rate <= 1))
    throw std::invalid_argument(fmt::format("mask_tokens: rate must be in (0, 1], got {}", rate));
  if (vocab_size <= kNumSpecialTokens)
    throw std::invalid_argument(fmt::format(
        "mask_tokens: the vocabulary ({} tokens) has no ordinary token to substitute", vocab_size));
  // Probabilities as integer thresholds out of 2^20, so the draws are exact and portable.
  constexpr uint64_t kScale = uint64_t(1) << 20;
  const uint64_t threshold = uint64_t(rate * double(kScale) + 0.5);
  if (int64_t(row_seeds.size()) != input.rows)
    throw std::invalid_argument(
        fmt::format("mask_tokens: {} row seeds for {} rows", row_seeds.size(), input.rows));
  MaskedBatch out{input, std::vector<int32_t>(input.ids.size(), kIgnoreIndex)};
  for (int64_t r = 0; r < input.rows; ++r) {
    Rng rng(row_seeds[size_t(r)]);
    std::vector<int64_t> candidates;  // real tokens after the prefix
    for (int64_t c = skip_prefix; c < input.cols; ++c)
      if (!input.is_padding(r, c)) candidates.push_back(c);
    if (candidates.empty()) continue;
    std::vector<int64_t> picked;
    for (const int64_t c : candidates)
      if (rng.below(kScale) < threshold) picked.push_back(c);
    if (picked.empty()) picked.push_back(candidates[rng.below(candidates.size())]);
    for (const int64_t c : picked) {
      const int64_t at = r * input.cols + c;
      out.targets[at] = input.ids[at];
      const uint64_t action = rng.below(10);
      if (action < 8) {
        out.input.ids[at] = mask_id;
      } else if (action == 8) {
        out.input.ids[at] =
            kNumSpecialTokens + int32_t(rng.below(uint64_t(vocab_size - kNumSpecialTokens)));
      }  // else: kept as is
    }
  }
  return out;
}

}  // namespace attnlab::data
