#include "framing/framing.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "common/errors.h"
#include "framing/model_io.h"

namespace attnlab {

namespace framing {

std::vector<std::vector<size_t>> sequential_batches(size_t first, size_t last, size_t batch_size) {
  std::vector<std::vector<size_t>> out;
  for (size_t start = first; start < last; start += batch_size) {
    std::vector<size_t>& idx = out.emplace_back();
    for (size_t i = start; i < std::min(last, start + batch_size); ++i) idx.push_back(i);
  }
  return out;
}

double log_prob(const Tensor& logits, int64_t offset, int64_t v, int32_t token) {
  return log_softmax_row(logits, offset, v)[size_t(token)];
}

int32_t argmax_row(const Tensor& logits, int64_t offset, int64_t v) {
  return dispatch(logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = logits.data<T>() + offset;
    return static_cast<int32_t>(std::max_element(p, p + v) - p);
  });
}

std::vector<std::string> token_names(const data::Vocab& vocab, const std::vector<int32_t>& ids) {
  std::vector<std::string> out;
  for (int32_t id : ids) out.push_back(vocab.token_of(id));
  return out;
}

TokenScores score_tokens(const Tensor& logits, const std::vector<int32_t>& targets) {
  const int64_t v = logits.size(-1), rows = logits.size(0), cols = logits.size(1);
  TokenScores s;
  for (int64_t i = 0; i < rows * cols; ++i) {
    if (targets[size_t(i)] == data::kIgnoreIndex) continue;
    ++s.tokens;
    s.correct += argmax_row(logits, i * v, v) == targets[size_t(i)];
  }
  s.loss_sum = cross_entropy(logits, IntTensor{{rows, cols}, targets}).item() * s.tokens;
  return s;
}

EvalMetrics classification_metrics(const EvalTally& t, size_t rows, size_t num_labels) {
  EvalMetrics m;
  m.examples = int64_t(rows);
  m.loss = t.loss_count ? t.loss_sum / t.loss_count : 0.0;
  m.classification = true;
  if (rows == 0) return m;
  const std::vector<int> truth(t.truth.begin(), t.truth.end());
  const std::vector<int> predicted(t.predicted.begin(), t.predicted.end());
  score_classification(m, truth, predicted, int(num_labels));
  return m;
}

Prediction label_prediction(const std::vector<double>& s, const std::vector<std::string>& labels) {
  // softmax over the labels' scores
  const double mx = *std::max_element(s.begin(), s.end());
  double denom = 0;
  for (double x : s) denom += std::exp(x - mx);
  const size_t best = size_t(std::max_element(s.begin(), s.end()) - s.begin());
  Prediction p{labels[best], 1.0 / denom};
  for (double x : s) p.label_probabilities.push_back(std::exp(x - mx) / denom);
  return p;
}

}  // namespace framing

data::LengthLimit Framing::length_limit() const {
  return data::LengthLimit{max_len(), data::Overflow::Error};
}

void Framing::check_lengths(std::span<const data::Example> examples, const char* split,
                            std::span<const std::string> origins) const {
  const auto where = [&](size_t i) {
    return i < origins.size() ? fmt::format("{}: the {} example", origins[i], split)
                              : fmt::format("{} example {}", split, i + 1);
  };
  // Where it is is spelled out only for a refusal: no string is formatted
  // per example at start-up.
  for (size_t i = 0; i < examples.size(); ++i) {
    const auto count = [&](std::string_view text) {
      try {
        return vocab().count_tokens(text);
      } catch (const InputError& e) {
        throw InputError(fmt::format("{}: {}", where(i), e.what()));
      }
    };
    const size_t need = positions_needed(examples[i], count);
    if (need > max_len())
      throw std::invalid_argument(fmt::format(
          "{} needs {} positions but the model's max_len is {} (raise it with --max-len N)",
          where(i), need, max_len()));
  }
}

int64_t Framing::tokens_read(std::span<const data::EncodedExample> examples,
                             std::span<const size_t> indices) const {
  int64_t n = 0;
  for (size_t i : indices) n += int64_t(examples[i].source.size() + examples[i].target.size());
  return n;
}

size_t Framing::eval_rows(std::span<const data::EncodedExample> encoded,
                          size_t max_examples) const {
  return max_examples ? std::min(max_examples, encoded.size()) : encoded.size();
}

std::vector<Prediction> Framing::predict(const std::vector<std::string>& texts, size_t batch_size,
                                         size_t max_new) const {
  require_predictions();
  EvalScope scope(mutable_model());
  const std::vector<data::EncodedExample> encoded = encode_inputs(texts);
  std::vector<Prediction> out;
  for (const auto& rows : framing::sequential_batches(0, encoded.size(), batch_size))
    for (Prediction& p : predict_batch(encoded, rows, max_new)) out.push_back(std::move(p));
  return out;
}

std::vector<data::EncodedExample> Framing::encode_inputs(
    const std::vector<std::string>& texts) const {
  std::vector<data::EncodedExample> encoded;
  for (size_t i = 0; i < texts.size(); ++i)
    // label 0: classifier rows want a label; it is not read.
    encoded.push_back(
        data::EncodedExample{vocab().encode(texts[i], fmt::format("input {}", i + 1)), {}, 0});
  // Every input is measured before any is predicted, so a long one is named
  // as the input it is and never stops a batch halfway.
  for (size_t i = 0; i < encoded.size(); ++i) {
    const InputNeed need = input_need(encoded[i].source.size());
    if (need.positions > max_len())
      throw std::invalid_argument(
          fmt::format("input {} has {} tokens with {}, more than the model's max_len {}", i + 1,
                      need.positions, need.with, max_len()));
  }
  return encoded;
}

Framing::ForcedRun Framing::run_forced(const std::string&, const std::vector<int32_t>&) const {
  throw std::invalid_argument(
      fmt::format("a {} framing has no next output to score one at a time", name()));
}

}  // namespace attnlab
