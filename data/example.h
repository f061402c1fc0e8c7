// The text-level data types shared by the built-in tasks and the TSV readers.
#pragma once

#include "common/enum_names.h"

#include <string>
#include <string_view>
#include <vector>

namespace attnlab::data {

// For translation tasks `target` is the output text; for classification it is the label; for
// language modelling `source` is a piece of the text (a line) and `target` is empty.
struct Example {
  std::string source;
  std::string target;

  bool operator==(const Example&) const = default;
};

enum class TaskKind { Translation, Classification, LanguageModel };
inline constexpr EnumName<TaskKind> kTaskKindNames[] = {
    {TaskKind::Translation, "translation"},
    {TaskKind::Classification, "classification"},
    {TaskKind::LanguageModel, "lm"}};
inline std::string_view task_kind_name(TaskKind kind) {
  return enum_name(kTaskKindNames, kind);
}

struct Dataset {
  std::string name;
  TaskKind kind = TaskKind::Translation;
  std::vector<Example> train, valid, test;
  // Where each train and valid example came from ("data.tsv:12"), for files
  // only (built-in tasks leave these empty): messages about an example name
  // the line the user can open.
  std::vector<std::string> train_origin, valid_origin;
  // Classification only: every label of the training split, sorted. The label id of an example
  // is its label's position in this list.
  std::vector<std::string> labels;
};

// Sorted, de-duplicated targets of `examples` (the label set of a classification split).
std::vector<std::string> collect_labels(const std::vector<Example>& examples);

// "a, b, c" for messages; past `most` items, the first ones and "and N more", so that a
// message about one of 10,000 labels stays a line.
std::string list_some(const std::vector<std::string>& items, std::size_t most = 20);

}  // namespace attnlab::data
