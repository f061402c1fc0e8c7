#include "train/baseline.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <unordered_set>

namespace attnlab {

std::vector<std::string> NaiveBayes::ngrams(const std::string& text, int max_n) {
  const std::string padded = " " + text + " ";  // word edges are informative
  std::vector<std::string> out;
  for (int n = 1; n <= max_n; ++n)
    for (size_t i = 0; i + size_t(n) <= padded.size(); ++i) out.push_back(padded.substr(i, n));
  return out;
}

NaiveBayes::NaiveBayes(const std::vector<data::Example>& train,
                       const std::vector<std::string>& labels, NaiveBayesOptions options)
    : options_(options),
      log_prior_(labels.size(), 0.0),
      counts_(labels.size()),
      totals_(labels.size(), 0.0) {
  if (labels.empty() || train.empty())
    throw std::invalid_argument("naive Bayes: needs labels and training examples");
  std::vector<double> per_label(labels.size(), 0.0);
  std::unordered_set<std::string> seen;
  for (const data::Example& e : train) {
    const auto it = std::find(labels.begin(), labels.end(), e.target);
    if (it == labels.end())
      throw std::invalid_argument("naive Bayes: unknown label '" + e.target + "'");
    const size_t k = size_t(it - labels.begin());
    per_label[k] += 1;
    for (const std::string& g : ngrams(e.source, options_.max_n)) {
      counts_[k][g] += 1;
      totals_[k] += 1;
      seen.insert(g);
    }
  }
  vocabulary_ = seen.size();
  for (size_t k = 0; k < labels.size(); ++k)  // an unseen label keeps a tiny prior, not log 0
    log_prior_[k] = std::log((per_label[k] + 1.0) / (double(train.size()) + double(labels.size())));
}

std::vector<double> NaiveBayes::scores(const std::string& text) const {
  std::vector<double> out = log_prior_;
  const std::vector<std::string> grams = ngrams(text, options_.max_n);
  for (size_t k = 0; k < out.size(); ++k) {
    const double denom = totals_[k] + options_.alpha * double(vocabulary_ + 1);  // +1: unseen
    for (const std::string& g : grams) {
      const auto it = counts_[k].find(g);
      const double c = it == counts_[k].end() ? 0.0 : it->second;
      out[k] += std::log((c + options_.alpha) / denom);
    }
  }
  return out;
}

int NaiveBayes::predict(const std::string& text) const {
  const std::vector<double> s = scores(text);
  return int(std::max_element(s.begin(), s.end()) - s.begin());
}

EvalMetrics evaluate_baseline(const NaiveBayes& model, const std::vector<data::Example>& valid,
                              const std::vector<std::string>& labels) {
  EvalMetrics m;
  m.classification = true;
  m.examples = int64_t(valid.size());
  std::vector<int> truth, predicted;
  for (const data::Example& e : valid) {
    truth.push_back(int(std::find(labels.begin(), labels.end(), e.target) - labels.begin()));
    predicted.push_back(model.predict(e.source));
  }
  score_classification(m, truth, predicted, int(labels.size()));
  m.loss = NAN;
  return m;
}

}  // namespace attnlab
