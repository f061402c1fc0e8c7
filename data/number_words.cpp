#include "data/number_words.h"

#include <fmt/format.h>

#include <array>
#include <stdexcept>
#include <string_view>

namespace attnlab::data {
namespace {

constexpr std::array<std::string_view, 20> kBelowTwenty = {
    "zero",     "one",     "two",     "three",     "four",     "five",    "six",
    "seven",    "eight",   "nine",    "ten",       "eleven",   "twelve",  "thirteen",
    "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"};
constexpr std::array<std::string_view, 10> kTens = {
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"};

void append_word(std::string& out, std::string_view word) {
  if (!out.empty()) out += ' ';
  out += word;
}

// Appends the words for 1..999 (nothing for 0, which only appears inside larger numbers).
void append_below_thousand(std::string& out, int n) {
  if (n >= 100) {
    append_word(out, kBelowTwenty[n / 100]);
    append_word(out, "hundred");
    n %= 100;
  }
  if (n >= 20) {
    append_word(out, kTens[n / 10]);
    n %= 10;
  }
  if (n > 0) append_word(out, kBelowTwenty[n]);
}

}  // namespace

std::string number_to_words(int64_t n) {
  if (n < 0 || n > 999'999'999) {
    throw std::invalid_argument(
        fmt::format("number_to_words: {} is outside the supported range 0..999999999", n));
  }
  if (n == 0) return "zero";
  std::string out;
  const int millions = static_cast<int>(n / 1'000'000);
  const int thousands = static_cast<int>(n / 1000 % 1000);
  const int units = static_cast<int>(n % 1000);
  if (millions > 0) {
    append_below_thousand(out, millions);
    append_word(out, "million");
  }
  if (thousands > 0) {
    append_below_thousand(out, thousands);
    append_word(out, "thousand");
  }
  append_below_thousand(out, units);
  return out;
}

}  // namespace attnlab::data
