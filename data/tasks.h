// Built-in synthetic tasks, generated deterministically from a seed. Every task can be trained
// in minutes by a small model, and each stresses a different ability:
//
//   translation
//     dates      a date in one of 11 human formats -> ISO "YYYY-MM-DD"
//     numbers    digits 0..999999 -> English words
//     reverse    3..12 lowercase letters -> the same letters reversed
//     sort       3..12 lowercase letters -> the letters in alphabetical order
//     add        "a+b" with a, b in 0..999 -> the sum in digits
//   classification
//     brackets   2..20 of ()[] -> "balanced" / "unbalanced" (with hard negatives)
//     sentiment  templated review sentences -> "positive" / "negative" (see sentiment.h)
//     majority   an odd number (5..31) of a/b letters -> the letter that occurs more often
//   language modelling
//     counting   lines of 3..8 numbers counting up in English words from a start in 0..9999
//                ("forty one, forty two, forty three.\n"); the target is empty
//
// Splits are disjoint: no source text appears in two of train/valid/test.
#pragma once

#include "data/example.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace attnlab::data {

struct TaskInfo {
  std::string name;
  TaskKind kind;
  std::string description;  // one line, for `attnlab tasks`
  // Classification only, sorted.
  std::vector<std::string> labels;
  // How many distinct source texts the generator can produce; requests beyond it are refused.
  uint64_t unique_sources;
};

// All built-in tasks, translation tasks first.
std::vector<TaskInfo> list_tasks();

// Throws std::invalid_argument listing the known names if `name` is not a built-in task.
TaskInfo task_info(std::string_view name);

// Generates n_valid + n_test + n_train distinct examples of task `name`.
//
// The held-out splits are drawn first, so valid depends only on (seed, n_valid) and test only on
// (seed, n_valid, n_test): changing the training size never changes what a model is evaluated
// on. For classification each example's label is drawn uniformly first, so labels are balanced
// up to sampling noise; tasks whose generator makes minimal groups (brackets: a balanced string
// and a corruption of it) are drawn a group at a time, so labels are balanced at every length.
// Tasks with a small corner of short inputs (brackets) also partition their sources by hash, one
// in eight for the held-out splits, so that corner is shared between the splits rather than
// swallowed whole by the held-out split drawn first.
//
// Throws std::invalid_argument for an unknown task or when more examples are requested than the
// task has distinct sources, and std::runtime_error if the distinct examples run out in practice
// (requests close to the space size hit the rarely generated sources).
Dataset make_task(std::string_view name, uint64_t seed, std::size_t n_train, std::size_t n_valid,
                  std::size_t n_test = 0);

}  // namespace attnlab::data
