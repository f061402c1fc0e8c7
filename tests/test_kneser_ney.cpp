// The Kneser-Ney character baseline against hand-worked values, and its
// distributions sum to one.
#include <catch2/catch.hpp>

#include <cmath>
#include <set>

#include "train/kneser_ney.h"

using namespace attnlab;

TEST_CASE("kneser-ney: a unigram model by hand") {
  // "aab": a twice, b once. One count of 1 and one of 2: D = 1 / (1 + 2*1).
  // Three symbols (a, b and an unknown one) share the discounted mass 2D/3:
  //   P(a) = (2 - 1/3)/3 + (1/3)(2/3)(1/3) = 17/27, P(b) = 8/27, P(unknown) = 2/27.
  const KneserNey m(U"aab", 1);
  CHECK(m.discount(1) == Approx(1.0 / 3));
  CHECK(m.probability(U"", U'a') == Approx(17.0 / 27));
  CHECK(m.probability(U"", U'b') == Approx(8.0 / 27));
  CHECK(m.probability(U"", U'z') == Approx(2.0 / 27));
  CHECK(m.bits_per_char(U"ab") == Approx(-(std::log2(17.0 / 27) + std::log2(8.0 / 27)) / 2));
}

TEST_CASE("kneser-ney: every distribution sums to one, and context helps a regular text") {
  std::string text;
  for (int i = 0; i < 50; ++i) text += "the cat sat on the mat. ";
  text += "a dog? \u00e9t\u00e9\n";
  const std::u32string chars = code_points(text, "test");
  const std::set<char32_t> alphabet(chars.begin(), chars.end());
  for (int order : {1, 2, 3, 5}) {
    const KneserNey m(chars, order);
    for (const std::u32string& history :
         {std::u32string(U""), std::u32string(U"th"), std::u32string(U"e c"),
          std::u32string(U"xyzw"), std::u32string(U"\u00e9t")}) {
      double total = m.probability(history, U'#');  // the unknown character, once
      for (char32_t w : alphabet) total += m.probability(history, w);
      INFO("order " << order << ", history of " << history.size());
      CHECK(total == Approx(1.0).epsilon(1e-12));
    }
  }
  const std::u32string held_out = code_points("the cat sat on the mat. the cat", "held");
  CHECK(KneserNey(chars, 4).bits_per_char(held_out) <
        0.5 * KneserNey(chars, 1).bits_per_char(held_out));
  CHECK_THROWS_WITH(code_points("ok \xff", "bad.txt"), Catch::Matchers::Contains("bad.txt"));
}
