#include "data/text_objectives.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "data/collate.h"
#include "data/rng.h"

namespace attnlab::data {

MaskedRow mask_row(const std::vector<int32_t>& row, int64_t skip_prefix, uint64_t seed,
                   int32_t mask_id, int32_t first_ordinary, int32_t end_ordinary, double rate) {
  if (!(rate > 0 && rate <= 1))
    throw std::invalid_argument(fmt::format("mask_row: rate must be in (0, 1], got {}", rate));
  if (end_ordinary <= first_ordinary)
    throw std::invalid_argument("mask_row: the vocabulary has no ordinary token to substitute");
  const int64_t n = int64_t(row.size()) - skip_prefix;
  MaskedRow out{row, std::vector<int32_t>(row.size(), kIgnoreIndex)};
  if (n <= 0) return out;
  const int64_t chosen = std::clamp<int64_t>(std::llround(rate * double(n)), 1, n);
  std::vector<int64_t> positions(static_cast<size_t>(n));
  std::iota(positions.begin(), positions.end(), skip_prefix);
  Rng rng(seed);
  rng.shuffle(positions);
  for (int64_t i = 0; i < chosen; ++i) {
    const size_t at = size_t(positions[size_t(i)]);
    out.targets[at] = row[at];
    const uint64_t action = rng.below(10);
    if (action < 8)
      out.input[at] = mask_id;
    else if (action == 8)
      out.input[at] = first_ordinary + int32_t(rng.below(uint64_t(end_ordinary - first_ordinary)));
  }
  return out;
}

SpanCounts span_counts(int64_t length) {
  if (length < 2)
    throw std::invalid_argument(fmt::format("span corruption needs 2 tokens, got {}", length));
  SpanCounts c;
  c.noise = std::clamp<int64_t>(std::llround(0.15 * double(length)), 1, length - 1);
  c.spans = std::clamp<int64_t>(std::llround(double(c.noise) / 3.0), 1,
                                std::min(c.noise, length - c.noise));
  return c;
}

namespace {

// `total` items cut into `parts` non-empty runs at random: their lengths.
std::vector<int64_t> random_partition(int64_t total, int64_t parts, Rng& rng) {
  std::vector<int64_t> cuts(static_cast<size_t>(total - 1));
  std::iota(cuts.begin(), cuts.end(), 1);
  rng.shuffle(cuts);
  cuts.resize(static_cast<size_t>(parts - 1));
  std::sort(cuts.begin(), cuts.end());
  std::vector<int64_t> lengths;
  int64_t previous = 0;
  for (const int64_t cut : cuts) {
    lengths.push_back(cut - previous);
    previous = cut;
  }
  lengths.push_back(total - previous);
  return lengths;
}

}  // namespace

CorruptedRow corrupt_spans(const std::vector<int32_t>& row, uint64_t seed,
                           const std::vector<int32_t>& sentinels) {
  const SpanCounts c = span_counts(int64_t(row.size()));
  if (int64_t(sentinels.size()) < c.spans)
    throw std::invalid_argument(
        fmt::format("span corruption of {} tokens needs {} sentinels, got {}", row.size(), c.spans,
                    sentinels.size()));
  Rng rng(seed);
  const std::vector<int64_t> noise = random_partition(c.noise, c.spans, rng);
  const std::vector<int64_t> kept = random_partition(int64_t(row.size()) - c.noise, c.spans, rng);
  CorruptedRow out;
  size_t at = 0;
  for (size_t s = 0; s < size_t(c.spans); ++s) {
    out.input.insert(out.input.end(), row.begin() + int64_t(at),
                     row.begin() + int64_t(at) + kept[s]);
    at += size_t(kept[s]);
    out.input.push_back(sentinels[s]);
    out.target.push_back(sentinels[s]);
    out.target.insert(out.target.end(), row.begin() + int64_t(at),
                      row.begin() + int64_t(at) + noise[s]);
    at += size_t(noise[s]);
  }
  return out;
}

}  // namespace attnlab::data
