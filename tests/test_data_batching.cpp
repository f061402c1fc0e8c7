// Length-bucketed batching, padding and masked-LM corruption (the rows of
// each framing are tested in test_framing_rows.cpp).
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

// [CLS] and the source of examples[indices], padded: the rows masking works on.
Batch cls_rows(const std::vector<EncodedExample>& examples,
               const std::vector<std::size_t>& indices) {
  std::vector<std::vector<int32_t>> rows;
  for (std::size_t i : indices) {
    rows.push_back({kClsId});
    rows.back().insert(rows.back().end(), examples[i].source.begin(), examples[i].source.end());
  }
  return pad_rows(rows);
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
  const Batch input = cls_rows(examples, indices);

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
  const Batch odd_input = cls_rows(examples, odd);
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
  // Pinned batches (the first and last of two epochs), the same as the
  // 8-byte offsets of da2b603 gave: a checkpoint saved by that version
  // resumes with the same batches.
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
