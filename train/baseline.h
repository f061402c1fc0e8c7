// A non-neural baseline to hold a trained model against: multinomial naive
// Bayes over character n-grams, for classification. A model that loses to
// it has learned less than counting letters does.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/example.h"
#include "framing/metrics.h"

namespace attnlab {

struct NaiveBayesOptions {
  int max_n = 4;       // n-grams of 1..max_n characters (bytes) of " text "
  double alpha = 0.5;  // additive (Lidstone) smoothing of the n-gram counts
};

class NaiveBayes {
 public:
  // labels: the label list (label id = index); examples' targets are labels.
  NaiveBayes(const std::vector<data::Example>& train, const std::vector<std::string>& labels,
             NaiveBayesOptions options = {});
  // log P(label) + sum over the text's n-grams of log P(n-gram | label), per label.
  std::vector<double> scores(const std::string& text) const;
  int predict(const std::string& text) const;
  // The n-grams a text contributes: every substring of length 1..max_n of " text ".
  static std::vector<std::string> ngrams(const std::string& text, int max_n);

 private:
  NaiveBayesOptions options_;
  std::vector<double> log_prior_;
  std::vector<std::unordered_map<std::string, double>> counts_;  // per label
  std::vector<double> totals_;                                   // n-grams per label
  size_t vocabulary_ = 0;                                        // distinct n-grams
};

// Accuracy and macro-F1 of the baseline on `valid` (loss is not defined).
EvalMetrics evaluate_baseline(const NaiveBayes& model, const std::vector<data::Example>& valid,
                              const std::vector<std::string>& labels);

}  // namespace attnlab
