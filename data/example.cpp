#include "data/example.h"

#include <algorithm>

namespace attnlab::data {

std::vector<std::string> collect_labels(const std::vector<Example>& examples) {
  std::vector<std::string> labels;
  labels.reserve(examples.size());
  for (const Example& example : examples) labels.push_back(example.target);
  std::sort(labels.begin(), labels.end());
  labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
  return labels;
}

}  // namespace attnlab::data
