// The `brackets` task: a string of ( ) [ ] -> "balanced" or "unbalanced".
//
// Half the unbalanced strings keep the bracket counts of a balanced string and only break the
// order or nesting (")(", "([)]"), so counting alone cannot solve the task; the rest add, drop or
// change one bracket. Labels always come from an actual balance check of the final string.

#include "data/task_spec.h"

#include <string>
#include <string_view>
#include <vector>

namespace attnlab::data::detail {
namespace {

constexpr int kMaxPairs = 10;  // strings are 2..20 characters long
constexpr std::string_view kBrackets = "()[]";

bool is_balanced(std::string_view text) {
  std::vector<char> open;
  for (const char c : text) {
    if (c == '(' || c == '[') {
      open.push_back(c);
    } else {
      const char expected = c == ')' ? '(' : '[';
      if (open.empty() || open.back() != expected) return false;
      open.pop_back();
    }
  }
  return open.empty();
}

std::string random_balanced(Rng& rng, int pairs) {
  const int length = 2 * pairs;
  std::string text;
  std::vector<char> open;
  for (int i = 0; i < length; ++i) {
    const auto remaining = static_cast<std::size_t>(length - i);
    const bool must_open = open.empty();
    const bool must_close = open.size() == remaining;
    if (must_open || (!must_close && rng.chance(1, 2))) {
      const char bracket = rng.chance(1, 2) ? '(' : '[';
      open.push_back(bracket);
      text += bracket;
    } else {
      text += open.back() == '(' ? ')' : ']';
      open.pop_back();
    }
  }
  return text;
}

// Same brackets, different order: swaps two positions holding different characters.
void permute_order(Rng& rng, std::string& text) {
  while (true) {
    const auto i = rng.below(text.size());
    const auto j = rng.below(text.size());
    if (text[i] == text[j]) continue;
    std::swap(text[i], text[j]);
    return;
  }
}

// Changes the bracket counts: replaces, inserts or deletes one bracket.
void change_counts(Rng& rng, std::string& text) {
  const auto max_length = static_cast<std::size_t>(2 * kMaxPairs);
  switch (rng.below(3)) {
    case 0: {
      char& c = text[rng.below(text.size())];
      char replacement = c;
      while (replacement == c) replacement = rng.pick(kBrackets);
      c = replacement;
      return;
    }
    case 1:
      if (text.size() < max_length) {
        text.insert(text.begin() + static_cast<std::ptrdiff_t>(rng.below(text.size() + 1)),
                    rng.pick(kBrackets));
        return;
      }
      [[fallthrough]];
    default:
      if (text.size() > 2) {
        text.erase(rng.below(text.size()), 1);
      } else {
        text += rng.pick(kBrackets);
      }
  }
}

// Makes a balanced string unbalanced: half the time by reordering (counts kept), else by
// changing the counts.
void corrupt(Rng& rng, std::string& text) {
  do {
    if (rng.chance(1, 2)) {
      permute_order(rng, text);
    } else {
      change_counts(rng, text);
    }
  } while (is_balanced(text));
}

uint64_t balanced_count() {
  // Catalan(n) nesting shapes, times 2 bracket types per pair.
  uint64_t total = 0;
  uint64_t catalan = 1;
  for (uint64_t pairs = 1; pairs <= kMaxPairs; ++pairs) {
    catalan = catalan * 2 * (2 * pairs - 1) / (pairs + 1);
    total += catalan << pairs;
  }
  return total;
}

}  // namespace

TaskSpec brackets_task() {
  return {
      .name = "brackets",
      .kind = TaskKind::Classification,
      .description = "2..20 of ()[] -> balanced/unbalanced ('([])' balanced, '([)]' unbalanced)",
      .labels = {"balanced", "unbalanced"},
      // Labels are balanced, so the balanced strings are the binding limit.
      .unique_sources = 2 * balanced_count(),
      .generate =
          [](Rng& rng, int wanted_label) {
            std::string text = random_balanced(rng, static_cast<int>(rng.between(1, kMaxPairs)));
            if (wanted_label == 1) corrupt(rng, text);
            std::string label = is_balanced(text) ? "balanced" : "unbalanced";
            return Example{std::move(text), std::move(label)};
          },
      // A balanced string and a corruption of it, kept or dropped together, so each split holds
      // as many balanced as unbalanced strings of every length (see TaskSpec::generate_group).
      .generate_group =
          [](Rng& rng) {
            std::string text = random_balanced(rng, static_cast<int>(rng.between(1, kMaxPairs)));
            std::string corrupted = text;
            corrupt(rng, corrupted);
            return std::vector<Example>{{std::move(text), "balanced"},
                                        {std::move(corrupted), "unbalanced"}};
          },
      .held_out_one_in = 8,
  };
}

}  // namespace attnlab::data::detail
