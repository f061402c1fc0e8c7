#include "data/encoding.h"

#include <fmt/format.h>

#include <stdexcept>
#include <string_view>
#include <unordered_map>

namespace attnlab::data {

std::vector<EncodedExample> encode_translation(const std::vector<Example>& examples,
                                               const Vocab& source_vocab,
                                               const Vocab& target_vocab) {
  std::vector<EncodedExample> encoded;
  encoded.reserve(examples.size());
  for (std::size_t i = 0; i < examples.size(); ++i) {
    encoded.push_back(
        {source_vocab.encode(examples[i].source, fmt::format("example {} source", i + 1)),
         target_vocab.encode(examples[i].target, fmt::format("example {} target", i + 1)), -1});
  }
  return encoded;
}

std::vector<EncodedExample> encode_classification(const std::vector<Example>& examples,
                                                  const Vocab& vocab,
                                                  const std::vector<std::string>& labels) {
  // Looked up, not searched for every example: there may be a million labels.
  std::unordered_map<std::string_view, int32_t> index_of;
  for (std::size_t i = 0; i < labels.size(); ++i) index_of.emplace(labels[i], int32_t(i));
  std::vector<EncodedExample> encoded;
  encoded.reserve(examples.size());
  for (std::size_t i = 0; i < examples.size(); ++i) {
    const auto label = index_of.find(examples[i].target);
    if (label == index_of.end()) {
      throw std::invalid_argument(
          fmt::format("example {}: label '{}' is not one of the labels ({})", i + 1,
                      examples[i].target, list_some(labels)));
    }
    encoded.push_back({vocab.encode(examples[i].source, fmt::format("example {} text", i + 1)),
                       {},
                       label->second});
  }
  return encoded;
}

}  // namespace attnlab::data
