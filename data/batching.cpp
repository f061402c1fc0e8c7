#include "data/batching.h"

#include "data/rng.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace attnlab::data {
namespace {

// Cuts `order` into consecutive batches that respect the row limit and the token budget.
void cut_batches(std::span<const std::size_t> order, std::span<const std::size_t> lengths,
                 const BatchingOptions& options, std::vector<std::vector<std::size_t>>& batches) {
  std::vector<std::size_t> current;
  std::size_t longest = 0;
  for (const std::size_t index : order) {
    const std::size_t new_longest = std::max(longest, lengths[index]);
    const bool rows_full = current.size() >= options.batch_size;
    const bool over_budget =
        options.max_tokens != 0 && (current.size() + 1) * new_longest > options.max_tokens;
    if (!current.empty() && (rows_full || over_budget)) {
      batches.push_back(std::move(current));
      current.clear();
      longest = 0;
    }
    current.push_back(index);
    longest = std::max(longest, lengths[index]);
  }
  if (!current.empty()) batches.push_back(std::move(current));
}

}  // namespace

std::vector<std::vector<std::size_t>> make_batches(std::span<const std::size_t> lengths,
                                                   const BatchingOptions& options, uint64_t seed,
                                                   uint64_t epoch) {
  if (options.batch_size == 0) throw std::invalid_argument("batch_size must be at least 1");
  if (options.chunk_batches == 0) throw std::invalid_argument("chunk_batches must be at least 1");

  std::vector<std::size_t> order(lengths.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  Rng rng(mix_seeds(seed, epoch));
  if (options.shuffle) rng.shuffle(order);

  std::vector<std::vector<std::size_t>> batches;
  if (!options.bucket_by_length) {
    cut_batches(order, lengths, options, batches);
  } else {
    const std::size_t chunk_size = options.chunk_batches * options.batch_size;
    for (std::size_t start = 0; start < order.size(); start += chunk_size) {
      const auto chunk =
          std::span(order).subspan(start, std::min(chunk_size, order.size() - start));
      // Stable, so ties keep their shuffled order and the result is the same on every platform.
      std::stable_sort(chunk.begin(), chunk.end(),
                       [&](std::size_t a, std::size_t b) { return lengths[a] < lengths[b]; });
      cut_batches(chunk, lengths, options, batches);
    }
  }
  if (options.shuffle) rng.shuffle(batches);
  return batches;
}

std::vector<uint32_t> block_order(std::size_t tokens, std::size_t block, uint64_t seed,
                                  uint64_t epoch) {
  if (tokens > std::size_t(UINT32_MAX))
    throw std::invalid_argument(
        fmt::format("block_order: {} tokens; an epoch orders offsets below 2^32 only", tokens));
  if (tokens < block + 1) return {};
  std::vector<uint32_t> offsets(tokens - block);  // a block and its next token fit
  for (std::size_t i = 0; i < offsets.size(); ++i) offsets[i] = uint32_t(i);
  Rng rng(mix_seeds(seed, epoch));
  rng.shuffle(offsets);
  return offsets;
}

std::vector<std::vector<std::size_t>> make_block_batches(std::size_t tokens, std::size_t block,
                                                         std::size_t batch_size, uint64_t seed,
                                                         uint64_t epoch) {
  const std::vector<uint32_t> order = block_order(tokens, block, seed, epoch);
  std::vector<std::vector<std::size_t>> batches;
  for (std::size_t i = 0; i < block_batch_count(order.size(), batch_size); ++i)
    batches.push_back(block_batch(order, batch_size, i));
  return batches;
}

std::size_t block_batch_count(std::size_t offsets, std::size_t batch_size) {
  if (batch_size == 0) throw std::invalid_argument("block batches: batch_size must be positive");
  return (offsets + batch_size - 1) / batch_size;
}

std::vector<std::size_t> block_batch(std::span<const uint32_t> order, std::size_t batch_size,
                                     std::size_t i) {
  if (i >= block_batch_count(order.size(), batch_size))
    throw std::out_of_range(
        fmt::format("block batch {} of {} offsets in batches of {}", i, order.size(), batch_size));
  const std::size_t first = i * batch_size;
  const auto begin = order.begin() + std::ptrdiff_t(first);
  return {begin, begin + std::ptrdiff_t(std::min(batch_size, order.size() - first))};
}

double padding_fraction(const std::vector<std::vector<std::size_t>>& batches,
                        std::span<const std::size_t> lengths) {
  std::size_t padded = 0;
  std::size_t real = 0;
  for (const auto& batch : batches) {
    std::size_t longest = 0;
    for (const std::size_t index : batch) {
      longest = std::max(longest, lengths[index]);
      real += lengths[index];
    }
    padded += longest * batch.size();
  }
  return padded == 0 ? 0.0 : static_cast<double>(padded - real) / static_cast<double>(padded);
}

}  // namespace attnlab::data
