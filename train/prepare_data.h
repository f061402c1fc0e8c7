// The data of a run: the built-in task generated, or the user's files read,
// a held-out part set aside when there is none, and the vocabulary built
// from the training texts.
#pragma once

#include <memory>

#include "data/example.h"
#include "data/tokenizer.h"
#include "train/train_config.h"

namespace attnlab {

// A dataset with the vocabulary built from its training split.
struct PreparedData {
  data::Dataset dataset;
  std::shared_ptr<data::Vocab> vocab;
};

// Generates the built-in task or reads the TSV files of `config`; the
// vocabulary comes from the training texts (sources and targets), or is
// `vocab` when given (a pretrained model's, --init-from).
PreparedData prepare_data(const TrainConfig& config, std::shared_ptr<data::Vocab> vocab = nullptr);

// The tokenizer a run uses. Auto means char, except for your own
// classification data whose texts have 3 or more words on average: there
// words carry the meaning, and word tokens beat characters (docs/real-data.md).
data::TokenizerKind resolve_tokenizer(TokenizerChoice choice, const data::Dataset& dataset,
                                      bool built_in_task);

}  // namespace attnlab
