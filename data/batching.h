// Groups examples into batches. Length bucketing keeps padding small: examples are shuffled,
// then sorted by length inside windows of `chunk_batches` batches, cut into batches, and the
// batch order is shuffled again. Sorting only inside windows keeps the batches random enough
// for SGD while neighbours in a batch still have similar lengths.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace attnlab::data {

struct BatchingOptions {
  // Most examples (rows) in one batch.
  std::size_t batch_size = 32;
  // If non-zero, also keep rows * (longest length in the batch) <= max_tokens, so batches of
  // short sequences get more rows. An example longer than the budget goes into a batch alone.
  std::size_t max_tokens = 0;
  // Bucketing window, in batches.
  std::size_t chunk_batches = 50;
  bool bucket_by_length = true;
  // Off for evaluation: examples are taken in their given order (still bucketed within windows
  // if bucket_by_length) and batches are not reordered.
  bool shuffle = true;
};

// Example indices of each batch. Every index 0..lengths.size()-1 appears exactly once. The
// result depends only on (lengths, options, seed, epoch), so a resumed run sees the same order.
// Throws std::invalid_argument if batch_size or chunk_batches is zero.
std::vector<std::vector<std::size_t>> make_batches(std::span<const std::size_t> lengths,
                                                   const BatchingOptions& options, uint64_t seed,
                                                   uint64_t epoch);

// Language models: every offset at which a block of `block` tokens and its
// next token fit in a stream of `tokens` tokens, shuffled by (seed, epoch).
// Each epoch starts a block at every position once, so every step reads
// random contiguous blocks. 4 bytes an offset, as the tokens themselves take:
// a long text's epoch as batches of 8-byte indices took 4 times as much.
// Throws std::invalid_argument past 2^32 tokens.
std::vector<uint32_t> block_order(std::size_t tokens, std::size_t block, uint64_t seed,
                                  uint64_t epoch);

// block_order in batches of batch_size (the last may be smaller).
std::vector<std::vector<std::size_t>> make_block_batches(std::size_t tokens, std::size_t block,
                                                         std::size_t batch_size, uint64_t seed,
                                                         uint64_t epoch);

// One batch at a time, as make_block_batches cuts them, without the list:
// how many batches `offsets` make, and batch i (0-based) of `order`.
// Throw std::invalid_argument for a batch_size of 0, std::out_of_range past the last batch.
std::size_t block_batch_count(std::size_t offsets, std::size_t batch_size);
std::vector<std::size_t> block_batch(std::span<const uint32_t> order, std::size_t batch_size,
                                     std::size_t i);

// Fraction of padded positions if every batch is padded to its longest member.
double padding_fraction(const std::vector<std::vector<std::size_t>>& batches,
                        std::span<const std::size_t> lengths);

}  // namespace attnlab::data
