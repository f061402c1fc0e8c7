// How BERT and T5 corrupt a row of text for their pre-training objectives.
// Both draw from a row's own seed, so a row is corrupted alike in any batch,
// on any rank and after a resume.
#pragma once

#include <cstdint>
#include <vector>

namespace attnlab::data {

// BERT's masked language model: of the row's tokens after the first
// `skip_prefix` (its [CLS]), exactly round(rate * n) (at least 1) are
// chosen; of those 80% become `mask_id`, 10% a random ordinary token (an id
// in [first_ordinary, end_ordinary)) and 10% stay, so that the model cannot
// learn that only <mask> positions matter. `targets` holds the original id
// at each chosen position and kIgnoreIndex elsewhere.
struct MaskedRow {
  std::vector<int32_t> input, targets;
};
MaskedRow mask_row(const std::vector<int32_t>& row, int64_t skip_prefix, uint64_t seed,
                   int32_t mask_id, int32_t first_ordinary, int32_t end_ordinary,
                   double rate = 0.15);

// T5's span corruption of `length` tokens at noise density 0.15 and mean
// span length 3: round(0.15 * length) noise tokens (at least 1, at most
// length - 1) in max(1, round(noise / 3)) spans.
struct SpanCounts {
  int64_t noise = 0, spans = 0;
};
SpanCounts span_counts(int64_t length);
// The row with each noise span replaced by one sentinel (sentinels[i] for
// the i-th), and the target: each sentinel followed by the span it replaced.
// The spans and the kept runs between them have random lengths (each at
// least 1), alternating from a kept run, as in T5. `sentinels` must hold at
// least span_counts(row.size()).spans ids; the row at least 2 tokens.
struct CorruptedRow {
  std::vector<int32_t> input, target;
};
CorruptedRow corrupt_spans(const std::vector<int32_t>& row, uint64_t seed,
                           const std::vector<int32_t>& sentinels);

}  // namespace attnlab::data
