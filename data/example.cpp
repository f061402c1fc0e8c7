#include "data/example.h"

#include <fmt/format.h>

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

std::string list_some(const std::vector<std::string>& items, std::size_t most) {
  std::string out;
  for (std::size_t i = 0; i < items.size() && i < most; ++i) out += (i ? ", " : "") + items[i];
  if (items.size() > most) out += fmt::format(" and {} more", items.size() - most);
  return out;
}

}  // namespace attnlab::data
