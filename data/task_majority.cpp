// The `majority` task: an odd number (5..31) of the letters a and b -> the letter that occurs
// more often. The answer depends on every position, so a model cannot read it off a prefix or a
// suffix. Half of the strings have the smallest possible margin (one letter), which forces exact
// counting rather than a rough impression.

#include "data/task_spec.h"

#include <string>

namespace attnlab::data::detail {
namespace {

constexpr int kMinLength = 5;
constexpr int kMaxLength = 31;

uint64_t odd_length_string_count() {
  uint64_t total = 0;
  for (int length = kMinLength; length <= kMaxLength; length += 2) total += uint64_t{1} << length;
  return total;
}

}  // namespace

TaskSpec majority_task() {
  return {
      .name = "majority",
      .kind = TaskKind::Classification,
      .description = "5..31 (odd) letters a/b -> the more frequent letter ('abbab' -> 'b')",
      .labels = {"a", "b"},
      .unique_sources = odd_length_string_count(),
      .generate =
          [](Rng& rng, int wanted_label) {
            const int half_length = static_cast<int>(rng.between(kMinLength / 2, kMaxLength / 2));
            const int length = 2 * half_length + 1;
            const int close_win = half_length + 1;
            const int winners =
                rng.chance(1, 2) ? close_win : static_cast<int>(rng.between(close_win, length));
            const char winner = wanted_label == 1 ? 'b' : 'a';
            const char loser = winner == 'a' ? 'b' : 'a';
            std::string text(static_cast<std::size_t>(length), loser);
            for (int i = 0; i < winners; ++i) text[i] = winner;
            rng.shuffle(text);
            return Example{std::move(text), std::string(1, winner)};
          },
  };
}

}  // namespace attnlab::data::detail
