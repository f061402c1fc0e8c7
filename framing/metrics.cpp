#include "framing/metrics.h"

#include <fmt/format.h>

#include <cmath>

namespace attnlab {

double EvalMetrics::lm_measure() const {
  return word_tokens ? std::exp(loss) : loss * tokens_per_char / std::log(2.0);
}

std::string EvalMetrics::summary() const {
  if (language_model)
    return word_tokens ? fmt::format("loss {:.4f}  perplexity {:.2f}", loss, lm_measure())
                       : fmt::format("loss {:.4f}  {:.3f} bits/char", loss, lm_measure());
  if (classification)
    return fmt::format("loss {:.4f}  acc {:.2f}%  macro-F1 {:.2f}%", loss, 100 * accuracy,
                       100 * macro_f1);
  return fmt::format("loss {:.4f}  tok_acc {:.2f}%  exact {:.2f}%", loss, 100 * token_accuracy,
                     100 * exact_match);
}

double EvalMetrics::value(SelectMetric metric) const {
  switch (metric) {
    case SelectMetric::ExactMatch:
      return exact_match;
    case SelectMetric::TokenAccuracy:
      return token_accuracy;
    case SelectMetric::Accuracy:
      return accuracy;
    case SelectMetric::MacroF1:
      return macro_f1;
    case SelectMetric::Loss:
    case SelectMetric::Auto:
      break;
  }
  return loss;
}

void score_classification(EvalMetrics& m, const std::vector<int>& truth,
                          const std::vector<int>& predicted, int num_labels) {
  size_t hits = 0;
  for (size_t i = 0; i < truth.size(); ++i) hits += truth[i] == predicted[i];
  m.accuracy = truth.empty() ? 0.0 : double(hits) / double(truth.size());
  m.macro_f1 = macro_f1(truth, predicted, num_labels);
}

double macro_f1(const std::vector<int>& truth, const std::vector<int>& predicted, int num_labels) {
  std::vector<int64_t> tp(num_labels, 0), fp(num_labels, 0), fn(num_labels, 0);
  for (size_t i = 0; i < truth.size(); ++i) {
    if (truth[i] == predicted[i]) {
      ++tp[truth[i]];
    } else {
      ++fn[truth[i]];
      if (predicted[i] >= 0 && predicted[i] < num_labels) ++fp[predicted[i]];
    }
  }
  double sum = 0;
  int present = 0;
  for (int k = 0; k < num_labels; ++k) {
    const int64_t denom = 2 * tp[k] + fp[k] + fn[k];
    if (denom == 0) continue;  // label absent from both truth and predictions
    sum += 2.0 * double(tp[k]) / double(denom);
    ++present;
  }
  return present ? sum / present : 0.0;
}

}  // namespace attnlab
