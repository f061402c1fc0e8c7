// Text-to-text classification (GPT, T5): the label is text, written after the
// input by the model's own sequence-to-sequence rows (decoder-only or
// encoder-decoder). A prediction ranks the labels by their likelihood as the
// output; with more than kMaxScoredLabels labels it decodes once instead and
// reads the label off the output.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "framing/model_io.h"
#include "framing/seq2seq.h"

namespace attnlab {
namespace {

using namespace framing;

class TextToTextClassification final : public Framing {
 public:
  TextToTextClassification(FramingContext c, std::unique_ptr<Seq2SeqFraming> rows)
      : Framing(std::move(c)), rows_(std::move(rows)) {
    for (const auto& label : labels()) {
      label_tokens_.push_back(vocab().encode(label, "label"));
      label_of_tokens_.emplace(label_tokens_.back(), int(label_tokens_.size() - 1));
      if (label_tokens_.back().size() > longest_label_) {
        longest_label_ = label_tokens_.back().size();
        longest_label_id_ = label_tokens_.size() - 1;
      }
    }
  }
  std::string_view name() const override { return "text-to-text classification"; }

  std::vector<data::EncodedExample> encode(
      const std::vector<data::Example>& examples) const override {
    std::vector<data::EncodedExample> out =
        data::encode_classification(examples, vocab(), labels());
    for (auto& e : out) e.target = label_tokens_[size_t(e.label)];
    return out;
  }
  // The label's text is the target, in the translation rows. When labels
  // are scored, every label is written after every text: the longest must fit.
  size_t positions_needed(const data::Example& e,
                          const std::function<size_t(std::string_view)>& count) const override {
    if (!scores_labels()) return rows_->positions_needed(e, count);
    return rows_->positions_needed(data::Example{e.source, labels()[longest_label_id_]}, count);
  }
  std::vector<size_t> row_lengths(std::span<const data::EncodedExample> examples,
                                  const data::LengthLimit& limit) const override {
    return rows_->row_lengths(examples, limit);
  }
  int64_t target_count(std::span<const data::EncodedExample> examples,
                       std::span<const size_t> indices) const override {
    return rows_->target_count(examples, indices);
  }
  size_t input_positions(const data::EncodedExample& e) const override {
    return rows_->input_positions(e);
  }
  // Scored labels are teacher-forced after the input.
  InputNeed input_need(size_t source) const override {
    return rows_->input_need_with(source, scores_labels() ? longest_label_ : 0);
  }
  Tensor loss(std::span<const data::EncodedExample> examples, std::span<const size_t> indices,
              const LossOptions& options, std::span<const size_t> whole_batch) const override {
    return rows_->loss(examples, indices, options, whole_batch);
  }

  EvalTally tally(std::span<const data::EncodedExample> encoded, size_t batch_size, size_t first,
                  size_t last) const override {
    EvalScope scope(mutable_model());
    EvalTally t;
    for (const auto& idx : sequential_batches(first, last, batch_size)) {
      const Seq2SeqFraming::TeacherForced tf = rows_->teacher_forced(encoded, idx);
      const TokenScores s = score_tokens(tf.logits, tf.targets);
      t.loss_sum += s.loss_sum;
      t.loss_count += s.tokens;
      t.correct_tokens += s.correct;
      const std::vector<int> predicted = predicted_labels(encoded, idx);
      for (size_t r = 0; r < idx.size(); ++r) {
        t.truth.push_back(encoded[idx[r]].label);
        t.predicted.push_back(predicted[r]);
      }
    }
    return t;
  }
  EvalMetrics metrics(const EvalTally& t, size_t rows) const override {
    return classification_metrics(t, rows, labels().size());
  }

  Trace trace(const std::string& text) const override {
    EvalScope scope(mutable_model());
    Trace trace;
    trace.input = text;
    const Prediction p = predict({text})[0];
    trace.output = p.text;
    // What follows the input: the predicted label's tokens (or, when the
    // output was no label, what was decoded).
    const auto it = std::find(labels().begin(), labels().end(), p.text);
    const std::vector<int32_t>& out =
        it != labels().end() ? label_tokens_[size_t(it - labels().begin())] : p.tokens;
    rows_->trace_rows(vocab().encode(text, "input"), out, trace);
    return trace;
  }

  // The reference label's tokens, teacher-forced.
  Trace trace_reference(const data::Example& example) const override {
    const auto it = std::find(labels().begin(), labels().end(), example.target);
    if (it == labels().end()) return Framing::trace_reference(example);
    EvalScope scope(mutable_model());
    Trace trace;
    trace.input = example.source;
    trace.output = example.target;
    rows_->trace_rows(vocab().encode(example.source, "input"),
                      label_tokens_[size_t(it - labels().begin())], trace);
    return trace;
  }

  // The label's tokens are written one at a time, as a translation's.
  ForcedRun run_forced(const std::string& text, const std::vector<int32_t>& forced) const override {
    return rows_->run_forced(text, forced);
  }

  void set_decode_mode(DecodeMode mode) override { rows_->set_decode_mode(mode); }
  void set_search(const GenerateOptions& options) override { rows_->set_search(options); }

 protected:
  FramedBatch frame_rows(std::span<const data::EncodedExample> examples,
                         std::span<const size_t> indices,
                         const data::LengthLimit& limit) const override {
    return rows_->collate(examples, indices, limit);
  }

  std::vector<Prediction> predict_batch(std::span<const data::EncodedExample> encoded,
                                        std::span<const size_t> rows, size_t) const override {
    std::vector<Prediction> out;
    if (scores_labels()) {
      for (const auto& scores : label_log_likelihoods(encoded, rows))
        out.push_back(label_prediction(scores, labels()));
      return out;
    }
    // Many labels: the greedy output, which may be no label at all.
    std::vector<std::vector<double>> log_probs;
    std::vector<std::vector<int32_t>> outputs;
    const auto labels = decode_labels(encoded, rows, &log_probs, &outputs);
    for (size_t r = 0; r < rows.size(); ++r) {
      double total = 0;
      for (double lp : log_probs[r]) total += lp;
      Prediction p{labels[r] >= 0 ? this->labels()[size_t(labels[r])]
                                  : "(no label) " + vocab().decode(outputs[r]),
                   std::exp(total)};
      p.tokens = std::move(outputs[r]);
      p.token_log_probs = std::move(log_probs[r]);
      out.push_back(std::move(p));
    }
    return out;
  }

 private:
  // Scoring a label costs a forward pass: 10,000 labels made every
  // evaluation take minutes. Past this many, the greedy output is read.
  static constexpr size_t kMaxScoredLabels = 64;
  bool scores_labels() const { return label_tokens_.size() <= kMaxScoredLabels; }

  std::vector<int> predicted_labels(std::span<const data::EncodedExample> examples,
                                    std::span<const size_t> indices) const {
    if (!scores_labels()) return decode_labels(examples, indices, nullptr, nullptr);
    std::vector<int> out;
    for (const auto& ll : label_log_likelihoods(examples, indices))
      out.push_back(int(std::max_element(ll.begin(), ll.end()) - ll.begin()));
    return out;
  }

  // log P(label_k tokens + EOS | source) for each row and label: (rows, K).
  std::vector<std::vector<double>> label_log_likelihoods(
      std::span<const data::EncodedExample> examples, std::span<const size_t> indices) const {
    const size_t rows = indices.size(), k_labels = label_tokens_.size();
    std::vector<std::vector<double>> ll(rows, std::vector<double>(k_labels, 0.0));
    for (size_t k = 0; k < k_labels; ++k) {
      std::vector<data::EncodedExample> candidates;
      std::vector<size_t> idx;
      for (size_t r = 0; r < rows; ++r) {
        data::EncodedExample e = examples[indices[r]];
        e.target = label_tokens_[k];
        candidates.push_back(std::move(e));
        idx.push_back(r);
      }
      const Seq2SeqFraming::TeacherForced tf = rows_->teacher_forced(candidates, idx);
      const int64_t v = tf.logits.size(-1);
      for (size_t r = 0; r < rows; ++r)
        for (int64_t t = 0; t < tf.cols; ++t) {
          const int32_t tok = tf.targets[r * tf.cols + t];
          if (tok != data::kIgnoreIndex)
            ll[r][k] += log_prob(tf.logits, (int64_t(r) * tf.cols + t) * v, v, tok);
        }
    }
    return ll;
  }

  // The label each row decodes to (-1: the output is no label), and when
  // asked, each row's log-probabilities and output tokens.
  std::vector<int> decode_labels(std::span<const data::EncodedExample> examples,
                                 std::span<const size_t> indices,
                                 std::vector<std::vector<double>>* token_log_probs,
                                 std::vector<std::vector<int32_t>>* outputs_out) const {
    auto outputs = rows_->decode_outputs(examples, indices, longest_label_ + 1, token_log_probs);
    std::vector<int> labels;
    for (const auto& tokens : outputs) {
      const auto it = label_of_tokens_.find(tokens);
      labels.push_back(it == label_of_tokens_.end() ? -1 : it->second);
    }
    if (outputs_out) *outputs_out = std::move(outputs);
    return labels;
  }

  std::unique_ptr<Seq2SeqFraming> rows_;                 // the model's sequence-to-sequence rows
  std::vector<std::vector<int32_t>> label_tokens_;       // label id -> its tokens
  std::map<std::vector<int32_t>, int> label_of_tokens_;  // ... and back
  size_t longest_label_ = 0;                             // in tokens
  size_t longest_label_id_ = 0;
};

}  // namespace

std::unique_ptr<Framing> frame_text_to_text_classification(const FramingContext& c) {
  if (c.kind != data::TaskKind::Classification) return nullptr;
  // The rows are whatever this model translates with.
  FramingContext translation = c;
  translation.kind = data::TaskKind::Translation;
  translation.labels.clear();
  std::unique_ptr<Framing> rows;
  try {
    rows = make_framing(translation);
  } catch (const std::invalid_argument&) {
    return nullptr;  // it cannot write an output
  }
  auto* seq2seq = dynamic_cast<Seq2SeqFraming*>(rows.get());
  if (!seq2seq) return nullptr;
  rows.release();
  return std::make_unique<TextToTextClassification>(c, std::unique_ptr<Seq2SeqFraming>(seq2seq));
}

}  // namespace attnlab
