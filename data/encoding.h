// Turns text examples into token ids once, before training, so batching and collation only
// shuffle integers around.
#pragma once

#include "data/example.h"
#include "data/tokenizer.h"

#include <cstdint>
#include <string>
#include <vector>

namespace attnlab::data {

// Token ids without any special tokens; the collate functions add those per model family.
struct EncodedExample {
  std::vector<int32_t> source;
  std::vector<int32_t> target;  // translation only
  int32_t label = -1;           // classification only: index into Dataset::labels
};

// Source and target may use different vocabularies (encoder-decoder models) or the same one
// (decoder-only models, which see both in a single sequence). Throws on invalid UTF-8 naming the
// example.
std::vector<EncodedExample> encode_translation(const std::vector<Example>& examples,
                                               const Vocab& source_vocab,
                                               const Vocab& target_vocab);

// Throws std::invalid_argument naming the example and the labels if a target is not in `labels`.
std::vector<EncodedExample> encode_classification(const std::vector<Example>& examples,
                                                  const Vocab& vocab,
                                                  const std::vector<std::string>& labels);

}  // namespace attnlab::data
