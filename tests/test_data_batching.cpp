// Length-bucketed batching and the per-family collate functions.
#include "data/batching.h"
#include "data/collate.h"
#include "data/masking.h"
#include "data/rng.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <vector>

using namespace attnlab::data;
using Catch::Matchers::Contains;

namespace {

std::vector<std::size_t> random_lengths(std::size_t count, uint64_t seed) {
  Rng rng(seed);
  std::vector<std::size_t> lengths(count);
  for (auto& length : lengths) length = static_cast<std::size_t>(rng.between(1, 100));
  return lengths;
}

EncodedExample translation(std::vector<int32_t> source, std::vector<int32_t> target) {
  return {std::move(source), std::move(target), -1};
}

}  // namespace

TEST_CASE("data: every example appears exactly once per epoch", "[data][batching]") {
  const auto lengths = random_lengths(1003, 1);
  for (const bool bucket : {true, false}) {
    for (uint64_t epoch = 0; epoch < 3; ++epoch) {
      const auto batches =
          make_batches(lengths, {.batch_size = 16, .bucket_by_length = bucket}, 42, epoch);
      std::vector<int> seen(lengths.size(), 0);
      for (const auto& batch : batches) {
        CHECK((!batch.empty() && batch.size() <= 16));
        for (const std::size_t index : batch) ++seen[index];
      }
      CHECK(std::all_of(seen.begin(), seen.end(), [](int count) { return count == 1; }));
    }
  }
}

TEST_CASE("data: batch order is a function of seed and epoch", "[data][batching]") {
  const auto lengths = random_lengths(500, 2);
  const BatchingOptions options{.batch_size = 8};
  CHECK(make_batches(lengths, options, 1, 0) == make_batches(lengths, options, 1, 0));
  CHECK(make_batches(lengths, options, 1, 0) != make_batches(lengths, options, 1, 1));
  CHECK(make_batches(lengths, options, 1, 0) != make_batches(lengths, options, 2, 0));

  // Without shuffling, unbucketed batches are consecutive runs of the input order.
  const auto ordered =
      make_batches(lengths, {.batch_size = 8, .bucket_by_length = false, .shuffle = false}, 1, 0);
  CHECK(ordered.front() == std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6, 7});
  CHECK(ordered.back() == std::vector<std::size_t>{496, 497, 498, 499});

  CHECK_THROWS_AS(make_batches(lengths, {.batch_size = 0}, 1, 0), std::invalid_argument);
  CHECK(make_batches(std::vector<std::size_t>{}, options, 1, 0).empty());
}

TEST_CASE("data: length bucketing cuts padding on random lengths", "[data][batching]") {
  const auto lengths = random_lengths(5000, 3);
  const double bucketed =
      padding_fraction(make_batches(lengths, {.batch_size = 32}, 5, 0), lengths);
  const double plain = padding_fraction(
      make_batches(lengths, {.batch_size = 32, .bucket_by_length = false}, 5, 0), lengths);
  CHECK(plain > 0.3);
  CHECK(bucketed < 0.05);
}

TEST_CASE("data: a token budget limits rows times longest length", "[data][batching]") {
  const auto lengths = random_lengths(2000, 4);
  const auto batches = make_batches(lengths, {.batch_size = 64, .max_tokens = 400}, 9, 0);
  std::size_t total = 0;
  for (const auto& batch : batches) {
    std::size_t longest = 0;
    for (const std::size_t index : batch) longest = std::max(longest, lengths[index]);
    CHECK(batch.size() * longest <= 400);
    total += batch.size();
  }
  CHECK(total == lengths.size());
  // Short sequences are packed into more rows than long ones.
  CHECK(std::any_of(batches.begin(), batches.end(), [](const auto& b) { return b.size() > 20; }));
}

TEST_CASE("data: encoder classification batch is [CLS] source plus padding", "[data][collate]") {
  const std::vector<EncodedExample> examples = {{{10, 11, 12}, {}, 1}, {{20}, {}, 0}};
  const std::vector<std::size_t> indices = {1, 0};
  const ClassificationBatch batch = collate_classification(examples, indices);
  CHECK(batch.input.rows == 2);
  CHECK(batch.input.cols == 4);
  CHECK(batch.input.ids == std::vector<int32_t>{kClsId, 20, kPadId, kPadId, kClsId, 10, 11, 12});
  CHECK(batch.input.padding_mask == std::vector<uint8_t>{0, 0, 1, 1, 0, 0, 0, 0});
  CHECK(batch.labels == std::vector<int32_t>{0, 1});

  const std::vector<EncodedExample> unlabeled = {{{10}, {}, -1}};
  const std::vector<std::size_t> first = {0};
  CHECK_THROWS_WITH(collate_classification(unlabeled, first), Contains("example 1"));
  const std::vector<std::size_t> outside = {5};
  CHECK_THROWS_AS(collate_classification(examples, outside), std::out_of_range);
}

TEST_CASE("data: prefix-LM batch predicts only the target and EOS", "[data][collate]") {
  const std::vector<EncodedExample> examples = {translation({10, 11}, {30, 31, 32}),
                                                translation({20}, {40})};
  const std::vector<std::size_t> indices = {0, 1};
  const PrefixLmBatch batch = collate_prefix_lm(examples, indices);
  const int32_t pad = kPadId;
  const int32_t ign = kIgnoreIndex;
  REQUIRE(batch.input.cols == 7);
  // Row 0: BOS s s SEP t t t   -> targets: - - - t t t EOS
  // Row 1: BOS s SEP t pad...  -> targets: - - t EOS - - -
  CHECK(batch.input.ids == std::vector<int32_t>{kBosId, 10, 11, kSepId, 30, 31, 32,  //
                                                kBosId, 20, kSepId, 40, pad, pad, pad});
  CHECK(batch.targets == std::vector<int32_t>{ign, ign, ign, 30, 31, 32, kEosId,  //
                                              ign, ign, 40, kEosId, ign, ign, ign});
  CHECK(batch.input.padding_mask == std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1});
  CHECK(batch.prefix_lengths == std::vector<int32_t>{4, 3});
}

TEST_CASE("data: encoder-decoder batch layouts", "[data][collate]") {
  const std::vector<EncodedExample> examples = {translation({10, 11, 12}, {30}),
                                                translation({20}, {40, 41})};
  const std::vector<std::size_t> indices = {0, 1};
  const Seq2SeqBatch batch = collate_seq2seq(examples, indices);
  const int32_t pad = kPadId;
  const int32_t ign = kIgnoreIndex;
  CHECK(batch.encoder.cols == 4);
  CHECK(batch.encoder.ids == std::vector<int32_t>{10, 11, 12, kEosId, 20, kEosId, pad, pad});
  CHECK(batch.encoder.padding_mask == std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 1, 1});
  CHECK(batch.decoder.cols == 3);
  CHECK(batch.decoder.ids == std::vector<int32_t>{kBosId, 30, pad, kBosId, 40, 41});
  CHECK(batch.decoder.padding_mask == std::vector<uint8_t>{0, 0, 1, 0, 0, 0});
  CHECK(batch.targets == std::vector<int32_t>{30, kEosId, ign, 40, 41, kEosId});
}

TEST_CASE("data: over-long examples are an error unless the source may be truncated",
          "[data][collate]") {
  const std::vector<EncodedExample> examples = {translation({1, 2}, {3}),
                                                translation({10, 11, 12, 13, 14, 15}, {30, 31})};
  const std::vector<std::size_t> indices = {0, 1};
  const LengthLimit strict{.max_len = 6};
  CHECK_NOTHROW(collate_prefix_lm(examples, std::vector<std::size_t>{0}, strict));
  CHECK_THROWS_WITH(collate_prefix_lm(examples, indices, strict),
                    Contains("example 2") && Contains("10 tokens") && Contains("max_len 6"));
  CHECK_THROWS_AS(collate_seq2seq(examples, indices, strict), std::length_error);

  const LengthLimit truncate{.max_len = 6, .overflow = Overflow::TruncateSource};
  const PrefixLmBatch lm = collate_prefix_lm(examples, indices, truncate);
  CHECK(lm.input.cols == 6);
  CHECK(std::vector<int32_t>(lm.input.ids.begin() + 6, lm.input.ids.end()) ==
        std::vector<int32_t>{kBosId, 10, 11, kSepId, 30, 31});
  CHECK(std::vector<int32_t>(lm.targets.begin() + 6, lm.targets.end()) ==
        std::vector<int32_t>{kIgnoreIndex, kIgnoreIndex, kIgnoreIndex, 30, 31, kEosId});

  const Seq2SeqBatch seq2seq = collate_seq2seq(examples, indices, truncate);
  CHECK(seq2seq.encoder.cols == 6);
  CHECK(seq2seq.encoder.id(1, 5) == kEosId);

  // Targets are never cut, even when truncation is allowed.
  const LengthLimit tiny{.max_len = 3, .overflow = Overflow::TruncateSource};
  CHECK_THROWS_WITH(collate_prefix_lm(examples, indices, tiny),
                    Contains("example 2") &&
                        Contains("10 tokens (6 source + 2 target + 2 special)") &&
                        Contains("targets are never truncated"));
  CHECK_THROWS_WITH(
      collate_seq2seq(examples, indices, {.max_len = 2, .overflow = Overflow::TruncateSource}),
      Contains("example 2") && Contains("decoder input"));
}

TEST_CASE("data: bucketing lengths match the collated row lengths", "[data][collate]") {
  const std::vector<EncodedExample> examples = {{{1, 2, 3}, {4, 5}, 0}, {{6}, {7}, 1}};
  const LengthLimit truncate{.max_len = 4, .overflow = Overflow::TruncateSource};
  const std::vector<std::size_t> first = {0};
  CHECK(sequence_lengths(examples, Layout::EncoderClassifier)[0] ==
        static_cast<std::size_t>(collate_classification(examples, first).input.cols));
  CHECK(sequence_lengths(examples, Layout::PrefixLm)[0] ==
        static_cast<std::size_t>(collate_prefix_lm(examples, first).input.cols));
  CHECK(sequence_lengths(examples, Layout::PrefixLm, truncate)[0] ==
        static_cast<std::size_t>(collate_prefix_lm(examples, first, truncate).input.cols));
  const Seq2SeqBatch seq2seq = collate_seq2seq(examples, first);
  CHECK(sequence_lengths(examples, Layout::EncoderDecoder)[0] ==
        static_cast<std::size_t>(seq2seq.encoder.cols + seq2seq.decoder.cols));
}

TEST_CASE("data: masked-LM corruption hides about 15% of the real tokens, never [CLS] or padding",
          "[data][masking]") {
  // 400 rows of [CLS] + 1..30 tokens from a 40-token vocabulary, padded to 31 columns.
  Rng lengths(3);
  std::vector<EncodedExample> examples;
  for (int i = 0; i < 400; ++i) {
    std::vector<int32_t> source(static_cast<std::size_t>(lengths.between(1, 30)));
    for (auto& id : source) id = static_cast<int32_t>(kNumSpecialTokens + lengths.below(34));
    examples.push_back({std::move(source), {}, 0});
  }
  std::vector<std::size_t> indices(examples.size());
  for (std::size_t i = 0; i < indices.size(); ++i) indices[i] = i;
  const Batch input = collate_classification(examples, indices).input;

  std::vector<uint64_t> seeds;
  Rng rng(11);
  for (int64_t r = 0; r < input.rows; ++r) seeds.push_back(rng.next());
  const MaskedBatch masked = mask_tokens(input, seeds, 40, kUnkId);
  REQUIRE(masked.input.ids.size() == input.ids.size());
  CHECK(masked.input.padding_mask == input.padding_mask);
  int real = 0, picked = 0, as_mask = 0, kept = 0, replaced = 0;
  for (int64_t r = 0; r < input.rows; ++r) {
    int picked_in_row = 0;
    for (int64_t c = 0; c < input.cols; ++c) {
      const std::size_t at = static_cast<std::size_t>(r * input.cols + c);
      const int32_t target = masked.targets[at];
      if (c == 0 || input.is_padding(r, c)) {  // [CLS] and padding: untouched, unscored
        CHECK(target == kIgnoreIndex);
        CHECK(masked.input.ids[at] == input.ids[at]);
        continue;
      }
      ++real;
      if (target == kIgnoreIndex) {
        CHECK(masked.input.ids[at] == input.ids[at]);
        continue;
      }
      CHECK(target == input.ids[at]);  // the target is the hidden original
      ++picked;
      ++picked_in_row;
      const int32_t now = masked.input.ids[at];
      if (now == kUnkId) {
        ++as_mask;
      } else if (now == target) {
        ++kept;
      } else {
        ++replaced;
        CHECK((now >= kNumSpecialTokens && now < 40));
      }
    }
    CHECK(picked_in_row >= 1);
  }
  INFO("real " << real << " picked " << picked << " mask " << as_mask << " kept " << kept
               << " replaced " << replaced);
  CHECK(picked > real * 13 / 100);
  CHECK(picked < real * 18 / 100);
  CHECK(as_mask > picked * 75 / 100);
  CHECK(as_mask < picked * 85 / 100);
  CHECK(kept > picked * 6 / 100);  // 10% kept, plus random replacements that hit the original
  CHECK(replaced > picked * 6 / 100);

  CHECK(mask_tokens(input, seeds, 40, kUnkId).input.ids == masked.input.ids);
  // A row is masked alike in any batch: here the odd rows alone, with less padding.
  std::vector<std::size_t> odd;
  std::vector<uint64_t> odd_seeds;
  for (std::size_t i = 1; i < indices.size(); i += 2)
    odd.push_back(i), odd_seeds.push_back(seeds[i]);
  const Batch odd_input = collate_classification(examples, odd).input;
  const MaskedBatch odd_masked = mask_tokens(odd_input, odd_seeds, 40, kUnkId);
  for (std::size_t k = 0; k < odd.size(); ++k)
    for (int64_t c = 0; c < odd_input.cols; ++c) {
      if (odd_input.is_padding(int64_t(k), c)) continue;
      const std::size_t alone = k * std::size_t(odd_input.cols) + std::size_t(c);
      const std::size_t together = odd[k] * std::size_t(input.cols) + std::size_t(c);
      CHECK(odd_masked.input.ids[alone] == masked.input.ids[together]);
      CHECK(odd_masked.targets[alone] == masked.targets[together]);
    }
  CHECK_THROWS_WITH(mask_tokens(input, seeds, 40, kUnkId, 0.0), Contains("rate"));
  CHECK_THROWS_WITH(mask_tokens(input, seeds, kNumSpecialTokens, kUnkId),
                    Contains("no ordinary token"));
  CHECK_THROWS_WITH(mask_tokens(input, std::span(seeds).first(3), 40, kUnkId),
                    Contains("3 row seeds"));
}

TEST_CASE("data: language-model blocks start at every offset once per epoch, shuffled by seed") {
  const auto a = make_block_batches(100, 10, 16, 3, 0);
  std::vector<std::size_t> seen;
  for (const auto& batch : a) {
    CHECK(batch.size() <= 16);
    seen.insert(seen.end(), batch.begin(), batch.end());
  }
  std::sort(seen.begin(), seen.end());
  std::vector<std::size_t> every(90);  // a block of 10 and its next token fit at 0..89
  std::iota(every.begin(), every.end(), 0);
  CHECK(seen == every);
  CHECK(make_block_batches(100, 10, 16, 3, 0) == a);   // deterministic
  CHECK(make_block_batches(100, 10, 16, 3, 1) != a);   // another epoch, another order
  CHECK(make_block_batches(10, 10, 4, 3, 0).empty());  // no room for a block and its next
  // The order of attnlab before an epoch's order became 4-byte offsets
  // (da2b603, the first and last batch of two epochs): a checkpoint saved
  // then resumes with the same batches.
  CHECK(a.size() == 6);
  CHECK(a.front() ==
        std::vector<std::size_t>{72, 28, 23, 89, 7, 37, 59, 49, 67, 88, 84, 61, 54, 15, 57, 30});
  CHECK(a.back() == std::vector<std::size_t>{9, 38, 44, 17, 0, 83, 64, 47, 32, 87});
  const auto b = make_block_batches(100, 10, 16, 3, 1);
  CHECK(b.front() ==
        std::vector<std::size_t>{33, 21, 14, 73, 16, 15, 87, 30, 86, 24, 32, 5, 79, 65, 20, 63});
  CHECK(b.back() == std::vector<std::size_t>{3, 58, 17, 81, 44, 23, 88, 64, 47, 56});
  // The trainer takes them one at a time.
  const std::vector<uint32_t> order = block_order(100, 10, 3, 0);
  REQUIRE(block_batch_count(order.size(), 16) == 6);
  for (std::size_t i = 0; i < 6; ++i) CHECK(block_batch(order, 16, i) == a[i]);
  CHECK_THROWS_AS(block_batch(order, 16, 6), std::out_of_range);
  CHECK_THROWS_WITH(block_batch_count(90, 0), Contains("batch_size"));
  // An epoch's order is 4 bytes an offset; past 2^32 it is refused, unallocated.
  CHECK(block_order(100, 10, 3, 0).size() == 90);
  CHECK_THROWS_WITH(block_order(std::size_t(1) << 33, 10, 3, 0), Contains("2^32"));
}
