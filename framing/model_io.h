// What every framing needs to feed a padded batch to the model and read its
// logits back.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "data/collate.h"
#include "data/tokenizer.h"
#include "framing/framing.h"
#include "models/model.h"

namespace attnlab::framing {

inline IntTensor ids_tensor(const data::Batch& b) {
  return IntTensor{{b.rows, b.cols}, b.ids};
}
inline Mask padding_of(const data::Batch& b) {
  return Mask{{b.rows, b.cols}, b.padding_mask};
}
// A batch of one unpadded row (1,T).
inline IntTensor one_row(const std::vector<int32_t>& ids) {
  return IntTensor{{1, int64_t(ids.size())}, ids};
}

// Row numbers [first, last) in batches of batch_size.
std::vector<std::vector<size_t>> sequential_batches(size_t first, size_t last, size_t batch_size);

// log-softmax of the v logits at `offset`, evaluated at `token`.
double log_prob(const Tensor& logits, int64_t offset, int64_t v, int32_t token);
// The most likely of the v logits at `offset`.
int32_t argmax_row(const Tensor& logits, int64_t offset, int64_t v);

// The tokens of ids, as a trace's axis shows them.
std::vector<std::string> token_names(const data::Vocab& vocab, const std::vector<int32_t>& ids);

// Teacher-forced scores of (B,T,V) logits against (B,T) targets: how many
// positions are scored, their summed cross-entropy (the mean times that
// count) and how many argmax predictions hit.
struct TokenScores {
  double loss_sum = 0, tokens = 0, correct = 0;
};
TokenScores score_tokens(const Tensor& logits, const std::vector<int32_t>& targets);

}  // namespace attnlab::framing

namespace attnlab::framing {

// Classification metrics of a tally over `rows` rows: loss per row,
// accuracy and macro-F1 of the label ids.
EvalMetrics classification_metrics(const EvalTally& tally, size_t rows, size_t num_labels);

// A distribution over the labels from their scores (logits or
// log-likelihoods): the most likely label, its probability and every label's.
Prediction label_prediction(const std::vector<double>& scores,
                            const std::vector<std::string>& labels);

}  // namespace attnlab::framing
