// The small string-to-string tasks: numbers, reverse, sort, add.

#include "data/number_words.h"
#include "data/task_spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>

namespace attnlab::data::detail {
namespace {

constexpr int kMinLetters = 3;
constexpr int kMaxLetters = 12;

// Draws the digit count uniformly first, so small numbers are as common as large ones; uniform
// values would make 90% of them have the maximum number of digits.
int64_t number_with_random_digit_count(Rng& rng, int max_digits) {
  const int digits = static_cast<int>(rng.between(1, max_digits));
  int64_t low = 1;
  for (int i = 1; i < digits; ++i) low *= 10;
  return rng.between(digits == 1 ? 0 : low, low * 10 - 1);
}

std::string random_letters(Rng& rng) {
  std::string letters(static_cast<std::size_t>(rng.between(kMinLetters, kMaxLetters)), 'a');
  for (char& c : letters) c = static_cast<char>('a' + rng.below(26));
  return letters;
}

// Number of lowercase strings with kMinLetters..kMaxLetters letters.
uint64_t letter_string_count() {
  uint64_t total = 0;
  uint64_t power = 1;
  for (int length = 1; length <= kMaxLetters; ++length) {
    power *= 26;
    if (length >= kMinLetters) total += power;
  }
  return total;
}

}  // namespace

TaskSpec numbers_task() {
  return {
      .name = "numbers",
      .kind = TaskKind::Translation,
      .description =
          "digits 0..999999 -> English words ('1234' -> 'one thousand two hundred "
          "thirty four')",
      .labels = {},
      .unique_sources = 1'000'000,
      .generate =
          [](Rng& rng, int) {
            const int64_t n = number_with_random_digit_count(rng, 6);
            return Example{fmt::format("{}", n), number_to_words(n)};
          },
  };
}

TaskSpec reverse_task() {
  return {
      .name = "reverse",
      .kind = TaskKind::Translation,
      .description = "3..12 lowercase letters -> the same letters reversed ('abc' -> 'cba')",
      .labels = {},
      .unique_sources = letter_string_count(),
      .generate =
          [](Rng& rng, int) {
            std::string source = random_letters(rng);
            return Example{source, std::string(source.rbegin(), source.rend())};
          },
  };
}

TaskSpec sort_task() {
  return {
      .name = "sort",
      .kind = TaskKind::Translation,
      .description = "3..12 lowercase letters -> the letters sorted ('dcab' -> 'abcd')",
      .labels = {},
      .unique_sources = letter_string_count(),
      .generate =
          [](Rng& rng, int) {
            std::string source = random_letters(rng);
            std::string sorted = source;
            std::sort(sorted.begin(), sorted.end());
            return Example{std::move(source), std::move(sorted)};
          },
  };
}

TaskSpec add_task() {
  return {
      .name = "add",
      .kind = TaskKind::Translation,
      .description = "'a+b' with a, b in 0..999 -> the sum ('12+345' -> '357')",
      .labels = {},
      .unique_sources = 1000 * 1000,
      .generate =
          [](Rng& rng, int) {
            const int64_t a = number_with_random_digit_count(rng, 3);
            const int64_t b = number_with_random_digit_count(rng, 3);
            return Example{fmt::format("{}+{}", a, b), fmt::format("{}", a + b)};
          },
  };
}

}  // namespace attnlab::data::detail
