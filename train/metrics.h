// Held-out metrics: what `attnlab train` reports at each evaluation and
// `attnlab eval` prints.
#pragma once

#include <string>
#include <vector>

namespace attnlab {

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
  // The headline number recipes are judged on: exact match or accuracy.
  double headline() const { return classification ? accuracy : exact_match; }
  std::string summary() const;  // "loss 0.123 tok_acc 98.1% exact 95.2%"
};

// Macro-averaged F1 over the labels that occur in `truth` or `predicted`.
double macro_f1(const std::vector<int>& truth, const std::vector<int>& predicted, int num_labels);

}  // namespace attnlab
