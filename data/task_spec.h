// Internal interface between the task registry (tasks.cpp) and the generator files
// (task_*.cpp). Not part of the public data API.
#pragma once

#include "data/example.h"
#include "data/rng.h"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace attnlab::data::detail {

struct TaskSpec {
  std::string_view name;
  TaskKind kind;
  std::string_view description;
  std::vector<std::string> labels;  // sorted; empty for translation
  uint64_t unique_sources;
  // Draws one random example. For classification `wanted_label` is an index into `labels` and
  // the generator should aim for it (the registry discards examples whose label differs, so
  // aiming only affects speed); translation generators get -1.
  std::function<Example(Rng& rng, int wanted_label)> generate;
  // Optional, classification only: draws a minimal group, one example per label, that differ only
  // in what decides the label (a balanced bracket string and a corruption of it). When set, the
  // registry keeps or rejects whole groups. Drawing labels independently would let the rejection
  // of repeated sources skew the label mix by length: short balanced strings run out long before
  // short unbalanced ones, and a model then learns "short means unbalanced".
  std::function<std::vector<Example>(Rng& rng)> generate_group;
  // Optional (0 = off): reserves one source in this many, chosen by a hash of the source (of a
  // group's first source), for the held-out splits, and the rest for training. Without it the
  // held-out splits, drawn first, take every source of a small corner of the space (all 10
  // bracket strings of up to 2 pairs) and leave none of it for training: a distribution shift
  // between the splits, not a test of generalisation.
  uint64_t held_out_one_in = 0;
};

TaskSpec dates_task();
TaskSpec numbers_task();
TaskSpec reverse_task();
TaskSpec sort_task();
TaskSpec add_task();
TaskSpec brackets_task();
TaskSpec sentiment_task();
TaskSpec majority_task();
TaskSpec counting_task();

}  // namespace attnlab::data::detail
