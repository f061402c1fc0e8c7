// The naive Bayes baseline, against probabilities worked out by hand.
#include <catch2/catch.hpp>
#include <cmath>

#include "train/baseline.h"

using namespace attnlab;

TEST_CASE("baseline: n-grams of the padded text, and naive Bayes scores by hand") {
  CHECK(NaiveBayes::ngrams("ab", 2) ==
        std::vector<std::string>{" ", "a", "b", " ", " a", "ab", "b "});
  // Unigrams only, alpha 1. Training: x: "a", y: "b". Padded texts " a ", " b ":
  // x counts {' ':2, 'a':1} (3), y counts {' ':2, 'b':1} (3); vocabulary {' ', a, b} = 3.
  // Denominator 3 + 1 * (3 + 1) = 7 for both labels; priors (1+1)/(2+2) = 1/2.
  const std::vector<data::Example> train = {{"a", "x"}, {"b", "y"}};
  const NaiveBayes nb(train, {"x", "y"}, {.max_n = 1, .alpha = 1.0});
  // "aa" -> " aa ": two spaces and two a's.
  const std::vector<double> s = nb.scores("aa");
  const double expect_x = std::log(0.5) + 2 * std::log(3.0 / 7) + 2 * std::log(2.0 / 7);
  const double expect_y = std::log(0.5) + 2 * std::log(3.0 / 7) + 2 * std::log(1.0 / 7);
  CHECK(s[0] == Approx(expect_x).epsilon(1e-12));
  CHECK(s[1] == Approx(expect_y).epsilon(1e-12));
  CHECK(nb.predict("aa") == 0);
  CHECK(nb.predict("bbb") == 1);
  const EvalMetrics m = evaluate_baseline(nb, {{"aa", "x"}, {"bb", "y"}, {"ab", "x"}}, {"x", "y"});
  CHECK(m.examples == 3);
  // "ab" ties on everything but the prior, which is equal: the first label wins.
  CHECK(m.accuracy == Approx(1.0));
}
