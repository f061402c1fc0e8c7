// The `counting` task, a built-in language-modelling text: lines that count
// up in English words from a random start, e.g.
//   "forty one, forty two, forty three, forty four.\n"
// Predicting the next character is easy within a word and hard at a number's
// first letter unless the model has learned to count: carrying from "forty
// nine" to "fifty" and from "ninety nine" to "one hundred" is the structure
// to find. No download needed.

#include "data/number_words.h"
#include "data/task_spec.h"

#include <string>

namespace attnlab::data::detail {
namespace {

constexpr int64_t kLargestStart = 9999;
constexpr int64_t kShortest = 3, kLongest = 8;  // numbers per line

}  // namespace

TaskSpec counting_task() {
  return {
      .name = "counting",
      .kind = TaskKind::LanguageModel,
      .description =
          "language modelling: lines counting up in English words ('forty one, forty "
          "two, forty three.')",
      .labels = {},
      .unique_sources = uint64_t(kLargestStart + 1) * uint64_t(kLongest - kShortest + 1),
      .generate =
          [](Rng& rng, int) {
            const int64_t start = int64_t(rng.between(0, kLargestStart));
            const int64_t count = int64_t(rng.between(kShortest, kLongest));
            std::string line;
            for (int64_t i = 0; i < count; ++i)
              line += (i ? ", " : "") + number_to_words(start + i);
            return Example{line + ".\n", ""};
          },
  };
}

}  // namespace attnlab::data::detail
