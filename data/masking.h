// Masked-language-model corruption of a batch (BERT's pre-training objective), used as an
// auxiliary loss: predicting a hidden token from both sides is a dense, per-token signal, where a
// classification label gives one bit per sequence. On brackets, a masked closer can only be
// filled in by finding its opener, which is exactly the skill the label depends on.
#pragma once

#include "data/collate.h"
#include "data/rng.h"

#include <cstdint>
#include <span>
#include <vector>

namespace attnlab::data {

struct MaskedBatch {
  Batch input;                   // the corrupted ids; same shape and padding as the original
  std::vector<int32_t> targets;  // rows * cols: the original id where masked, kIgnoreIndex else
};

// Picks each real token after the first `skip_prefix` of a row (e.g. 1 for [CLS]) with
// probability `rate`, and at least one per row that has any; BERT's recipe then replaces 80% of
// the picked tokens with `mask_id`, 10% with a random ordinary token (an id in
// [kNumSpecialTokens, vocab_size)) and keeps 10%, so the model cannot learn that only masked
// positions matter. Padding is never picked. Row r draws from its own stream, seeded by
// row_seeds[r]: a row is masked alike in any batch (data-parallel ranks split a batch's rows and
// must mask them as one process would). Throws std::invalid_argument if rate is not in (0, 1],
// the vocabulary has no ordinary token, or row_seeds does not have one seed per row.
MaskedBatch mask_tokens(const Batch& input, std::span<const uint64_t> row_seeds, int32_t vocab_size,
                        int32_t mask_id, double rate = 0.15, int64_t skip_prefix = 1);

}  // namespace attnlab::data
