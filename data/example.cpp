#include "data/example.h"

#include <algorithm>

namespace attnlab::data {

std::string_view task_kind_name(TaskKind kind) {
  return kind == TaskKind::Translation ? "translation" : "classification";
}

std::vector<std::string> collect_labels(const std::vector<Example>& examples) {
  std::vector<std::string> labels;
  labels.reserve(examples.size());
  for (const Example& example : examples) labels.push_back(example.target);
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
  return labels;
}

}  // namespace attnlab::data
