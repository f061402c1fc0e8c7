// BERT's masking and T5's span corruption of a row of text, against the
// papers' recipes.
#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>
#include <vector>

#include "data/collate.h"
#include "data/text_objectives.h"
#include "data/tokenizer.h"

using namespace attnlab::data;

namespace {

std::vector<int32_t> row_of(int n) {
  std::vector<int32_t> row(static_cast<size_t>(n));
  std::iota(row.begin(), row.end(), 100);  // ordinary ids 100..
  return row;
}

}  // namespace

TEST_CASE("data: BERT's masking chooses 15% of a row, 80% masked, 10% random, 10% kept") {
  const std::vector<int32_t> row = row_of(41);  // [CLS]-like first token + 40 text tokens
  int64_t masked = 0, random = 0, kept = 0;
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    const MaskedRow m = mask_row(row, 1, seed, /*mask_id=*/7, /*first_ordinary=*/6, 300);
    REQUIRE(m.input.size() == row.size());
    CHECK(m.targets[0] == kIgnoreIndex);  // the prefix is never chosen
    int64_t chosen = 0;
    for (size_t i = 0; i < row.size(); ++i) {
      if (m.targets[i] == kIgnoreIndex) {
        CHECK(m.input[i] == row[i]);  // untouched
        continue;
      }
      ++chosen;
      CHECK(m.targets[i] == row[i]);
      if (m.input[i] == 7) {
        ++masked;
      } else if (m.input[i] == row[i]) {
        ++kept;  // a random draw of the same token counts here too: 1 in 294
      } else {
        ++random;
        CHECK(m.input[i] >= 6);
        CHECK(m.input[i] < 300);
      }
    }
    CHECK(chosen == 6);  // round(0.15 * 40)
  }
  const double all = double(masked + random + kept);  // 12,000 chosen tokens
  CHECK(double(masked) / all == Approx(0.8).margin(0.015));
  CHECK(double(random) / all == Approx(0.1).margin(0.012));
  CHECK(double(kept) / all == Approx(0.1).margin(0.012));
  // The same seed masks alike; another seed differently.
  CHECK(mask_row(row, 1, 5, 7, 6, 300).input == mask_row(row, 1, 5, 7, 6, 300).input);
  CHECK(mask_row(row, 1, 5, 7, 6, 300).targets != mask_row(row, 1, 6, 7, 6, 300).targets);
  // A row of one text token still has one chosen.
  CHECK(mask_row(row_of(2), 1, 3, 7, 6, 300).targets[1] == 101);
}

TEST_CASE("data: T5's span corruption drops 15% of a row in spans of mean 3, one sentinel each") {
  CHECK(span_counts(127).noise == 19);  // round(0.15 * 127)
  CHECK(span_counts(127).spans == 6);   // round(19 / 3)
  CHECK(span_counts(7).noise == 1);
  CHECK(span_counts(7).spans == 1);
  CHECK(span_counts(2).noise == 1);
  CHECK_THROWS(span_counts(1));
  const std::vector<int32_t> sentinels = {50, 51, 52, 53, 54, 55};
  const std::vector<int32_t> row = row_of(127);
  double span_tokens = 0, spans = 0;
  for (uint64_t seed = 0; seed < 500; ++seed) {
    const CorruptedRow c = corrupt_spans(row, seed, sentinels);
    // The input keeps 127 - 19 tokens and a sentinel per span; the target
    // holds each sentinel and the 19 dropped tokens.
    CHECK(c.input.size() == 127 - 19 + 6);
    CHECK(c.target.size() == 19 + 6);
    // Putting each span back where its sentinel stands gives the row again,
    // and no span or kept run is empty.
    std::vector<int32_t> rebuilt;
    size_t t = 0;
    for (size_t i = 0; i < c.input.size(); ++i) {
      if (c.input[i] < 100) {
        REQUIRE(t < c.target.size());
        CHECK(c.target[t] == c.input[i]);          // sentinels in the same order
        CHECK((i == 0 || c.input[i - 1] >= 100));  // a kept token before every sentinel
        ++t;
        size_t length = 0;
        while (t < c.target.size() && c.target[t] >= 100) {
          rebuilt.push_back(c.target[t++]);
          ++length;
        }
        CHECK(length >= 1);
        span_tokens += double(length);
        spans += 1;
      } else {
        rebuilt.push_back(c.input[i]);
      }
    }
    CHECK(rebuilt == row);
    CHECK(c.input.front() >= 100);  // a kept run comes first
  }
  CHECK(span_tokens / spans == Approx(19.0 / 6.0));
  CHECK(corrupt_spans(row, 9, sentinels).input == corrupt_spans(row, 9, sentinels).input);
  CHECK(corrupt_spans(row, 9, sentinels).input != corrupt_spans(row, 10, sentinels).input);
  CHECK_THROWS_WITH(corrupt_spans(row, 1, {50, 51}),
                    Catch::Matchers::Contains("needs 6 sentinels"));
}

TEST_CASE("data: reserved tokens come last, never come from text, and survive a checkpoint") {
  VocabOptions options;
  options.reserved = {std::string(kMaskToken), sentinel_token(0), sentinel_token(1)};
  const std::vector<std::string> texts = {"ab <mask> <extra_id_0>"};
  const Vocab words = Vocab::build(TokenizerKind::Word, texts, options);
  CHECK(words.ordinary_end() == kNumSpecialTokens + 1);  // "ab" alone
  CHECK(words.reserved_id(kMaskToken) == words.ordinary_end());
  CHECK(words.reserved_id("<extra_id_1>") == words.size() - 1);
  // Typed in text, a reserved token's name is unknown text, not the token.
  CHECK(words.encode("ab <mask> <extra_id_0>") == std::vector<int32_t>{6, kUnkId, kUnkId});
  CHECK(words.decode(std::vector<int32_t>{6, words.reserved_id("<extra_id_0>")}) ==
        "ab <extra_id_0>");
  const Vocab chars = Vocab::build(TokenizerKind::Char, texts, options);
  const Vocab again = Vocab::from_tokens("char", chars.tokens());
  CHECK(again.ordinary_end() == chars.ordinary_end());
  CHECK(again.reserved_id(kMaskToken) == chars.reserved_id(kMaskToken));
  CHECK_THROWS_WITH(Vocab::build(TokenizerKind::Char, texts).reserved_id(kMaskToken),
                    Catch::Matchers::Contains("no reserved token <mask>"));
  std::vector<std::string> misplaced = chars.tokens();
  misplaced.push_back("z");
  CHECK_THROWS_WITH(Vocab::from_tokens("char", misplaced),
                    Catch::Matchers::Contains("follows a reserved token"));
  CHECK(is_reserved_token("<extra_id_12>"));
  CHECK_FALSE(is_reserved_token("<extra_id_012>"));
  CHECK_FALSE(is_reserved_token("<extra_id_>"));
}
