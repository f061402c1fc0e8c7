// Held-out metrics: what `attnlab train` reports at each evaluation and
// `attnlab eval` prints.
#pragma once

#include <string>
#include <vector>

#include "common/enum_names.h"

namespace attnlab {

// What a run selects its best model by (--select-metric).
enum class SelectMetric { Auto, ExactMatch, TokenAccuracy, Accuracy, MacroF1, Loss };
inline constexpr EnumName<SelectMetric> kSelectMetricNames[] = {
    {SelectMetric::Auto, "auto"},
    {SelectMetric::ExactMatch, "exact_match"},
    {SelectMetric::TokenAccuracy, "token_accuracy"},
    {SelectMetric::Accuracy, "accuracy"},
    {SelectMetric::MacroF1, "macro_f1"},
    {SelectMetric::Loss, "loss"}};

struct EvalMetrics {
  int64_t examples = 0;
  double loss = 0;  // mean per target token (translation) or per example (classification)
  // translation
  double token_accuracy = 0;  // teacher-forced argmax == target, over target tokens
  double exact_match = 0;     // greedy decoding reproduces the whole target
  // classification
  double accuracy = 0;
  double macro_f1 = 0;
  bool classification = false;
  // language models: only the loss, per token; bits per character (char
  // tokens) or perplexity (word tokens) derive from it
  bool language_model = false;
  bool word_tokens = false;
  // Predicted tokens per character of text predicted: 1 for character
  // tokens read one for one; more where sentinels are predicted too.
  double tokens_per_char = 1;
  // A language model's measure: "perplexity" (word tokens) or
  // "bits_per_char", and its value from the loss.
  const char* lm_measure_name() const { return word_tokens ? "perplexity" : "bits_per_char"; }
  double lm_measure() const;
  // The headline number recipes are judged on: exact match or accuracy.
  double headline() const { return classification ? accuracy : exact_match; }
  // The value of a (resolved, not Auto) selection metric.
  double value(SelectMetric metric) const;
  std::string summary() const;  // "loss 0.123 tok_acc 98.1% exact 95.2%"
};

// Sets accuracy and macro-F1 from label ids (accuracy 0 for no examples).
void score_classification(EvalMetrics& m, const std::vector<int>& truth,
                          const std::vector<int>& predicted, int num_labels);

// Macro-averaged F1 over the labels that occur in `truth` or `predicted`.
double macro_f1(const std::vector<int>& truth, const std::vector<int>& predicted, int num_labels);

}  // namespace attnlab
