#include "data/tasks.h"

#include "data/rng.h"
#include "data/task_spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <unordered_set>

namespace attnlab::data {
namespace {

const std::vector<detail::TaskSpec>& registry() {
  static const std::vector<detail::TaskSpec> tasks = {
      detail::dates_task(),     detail::numbers_task(),  detail::reverse_task(),
      detail::sort_task(),      detail::add_task(),      detail::brackets_task(),
      detail::sentiment_task(), detail::majority_task(), detail::counting_task(),
  };
  return tasks;
}

const detail::TaskSpec& find_spec(std::string_view name) {
  const auto& tasks = registry();
  const auto it = std::find_if(tasks.begin(), tasks.end(),
                               [&](const detail::TaskSpec& spec) { return spec.name == name; });
  if (it != tasks.end()) return *it;
  std::vector<std::string_view> names;
  for (const auto& spec : tasks) names.push_back(spec.name);
  throw std::invalid_argument(
      fmt::format("unknown task '{}'; known tasks: {}", name, fmt::join(names, ", ")));
}

TaskInfo info_of(const detail::TaskSpec& spec) {
  return {std::string(spec.name), spec.kind, std::string(spec.description), spec.labels,
          spec.unique_sources};
}

// Draws one candidate: the spec's minimal group when it has one, else a single example (for
// classification, of the label `wanted`; the caller keeps `wanted` until it gets one, so every
// label is equally likely however often its candidates are rejected).
std::vector<Example> draw_candidate(const detail::TaskSpec& spec, Rng& rng, int wanted) {
  if (spec.generate_group) return spec.generate_group(rng);
  Example example = spec.generate(rng, wanted);
  if (wanted >= 0 && example.target != spec.labels[wanted]) return {};
  return {std::move(example)};
}

enum class Split { HeldOut, Train };

// Whether a candidate may go to `split` under the spec's held_out_one_in partition.
bool belongs_to(const detail::TaskSpec& spec, const Example& first, Split split) {
  if (spec.held_out_one_in == 0) return true;
  // A splitmix64 round on top of FNV-1a mixes the low bits that the modulo reads.
  uint64_t hash = fnv1a(kFnvOffset, first.source.data(), first.source.size());
  const bool held_out = splitmix64(hash) % spec.held_out_one_in == 0;
  return held_out == (split == Split::HeldOut);
}

// Draws `count` examples of `split` whose sources are not yet in `seen` (and adds them to it). A
// group is kept only if all its sources are new, and the last one is cut to fit `count`.
std::vector<Example> draw_distinct(const detail::TaskSpec& spec, Split split, Rng& rng,
                                   std::size_t count, std::unordered_set<std::string>& seen,
                                   std::size_t requested) {
  // Generators are not uniform over their space (e.g. short strings are drawn as often as long
  // ones), so near the space size some sources are rarely hit. Giving up after this many
  // fruitless draws for one example turns an endless loop into an actionable error.
  const uint64_t max_attempts =
      std::clamp<uint64_t>(spec.unique_sources / 1000 * 4000, 100'000, 10'000'000);
  const bool aim = spec.kind == TaskKind::Classification && !spec.generate_group;
  auto pick_label = [&] { return aim ? static_cast<int>(rng.below(spec.labels.size())) : -1; };
  std::vector<Example> examples;
  examples.reserve(count);
  uint64_t attempts = 0;
  int wanted = count > 0 ? pick_label() : -1;
  while (examples.size() < count) {
    if (++attempts > max_attempts) {
      throw std::runtime_error(fmt::format(
          "task '{}': found only {} distinct examples of the {} requested after {} draws without "
          "a new one (the task has {} distinct sources, and the rarest are hard to reach); "
          "request fewer examples",
          spec.name, seen.size(), requested, max_attempts, spec.unique_sources));
    }
    std::vector<Example> group = draw_candidate(spec, rng, wanted);
    if (group.empty() || !belongs_to(spec, group.front(), split)) continue;
    bool all_new = true;  // groups hold one or two examples: pairwise checks beat a set
    for (std::size_t i = 0; i < group.size() && all_new; ++i) {
      all_new = !seen.count(group[i].source);
      for (std::size_t j = 0; j < i && all_new; ++j) all_new = group[j].source != group[i].source;
    }
    if (!all_new) continue;
    attempts = 0;
    for (Example& example : group) {
      if (examples.size() == count) break;
      seen.insert(example.source);
      examples.push_back(std::move(example));
    }
    if (examples.size() < count) wanted = pick_label();
  }
  return examples;
}

}  // namespace

std::vector<TaskInfo> list_tasks() {
  std::vector<TaskInfo> infos;
  for (const auto& spec : registry()) infos.push_back(info_of(spec));
  return infos;
}

TaskInfo task_info(std::string_view name) {
  return info_of(find_spec(name));
}

Dataset make_task(std::string_view name, uint64_t seed, std::size_t n_train, std::size_t n_valid,
                  std::size_t n_test) {
  const detail::TaskSpec& spec = find_spec(name);
  constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
  const bool overflows = n_valid > kMax - n_test || n_train > kMax - n_valid - n_test;
  const std::size_t total = overflows ? kMax : n_train + n_valid + n_test;
  if (overflows || total > spec.unique_sources) {
    throw std::invalid_argument(fmt::format(
        "task '{}' has only {} distinct examples but {} were requested (train {} + valid {} + "
        "test {})",
        spec.name, spec.unique_sources, overflows ? "more than that" : fmt::format("{}", total),
        n_train, n_valid, n_test));
  }

  Rng rng(seed);
  std::unordered_set<std::string> seen;
  seen.reserve(total);
  Dataset dataset;
  dataset.name = std::string(spec.name);
  dataset.kind = spec.kind;
  dataset.labels = spec.labels;
  dataset.valid = draw_distinct(spec, Split::HeldOut, rng, n_valid, seen, total);
  dataset.test = draw_distinct(spec, Split::HeldOut, rng, n_test, seen, total);
  dataset.train = draw_distinct(spec, Split::Train, rng, n_train, seen, total);
  return dataset;
}

}  // namespace attnlab::data
