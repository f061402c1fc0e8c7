#include "framing/seq2seq.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "framing/model_io.h"

namespace attnlab {

using namespace framing;

Seq2SeqFraming::TeacherForced Seq2SeqFraming::teacher_forced(
    std::span<const data::EncodedExample> examples, std::span<const size_t> indices) const {
  FramedBatch b = collate(examples, indices);
  return {logits(b), std::move(b.targets), b.input.cols};
}

std::vector<std::vector<int32_t>> Seq2SeqFraming::decode_outputs(
    std::span<const data::EncodedExample> examples, std::span<const size_t> indices, size_t max_new,
    std::vector<std::vector<double>>* token_log_probs) const {
  if (decode_mode_ == DecodeMode::Recompute) {
    if (search_.beam > 1 || search_.temperature > 0)
      throw std::logic_error("the recomputing reference decoder is greedy only");
    return greedy_decode_recompute(examples, indices, max_new, token_log_probs);
  }
  NoGradGuard no_grad;
  DecoderStart start = start_decoding(examples, indices);
  const Tensor* memory = start.memory.defined() ? &start.memory : nullptr;
  GenerateOptions options = search_;
  options.max_new = int64_t(max_new);
  options.eos_id = data::kEosId;
  options.never.assign(data::kNeverGenerated.begin(), data::kNeverGenerated.end());
  std::vector<Generated> generated =
      generate(model(), start.prompts, memory, memory ? &start.memory_mask : nullptr, options);
  std::vector<std::vector<int32_t>> out;
  std::vector<std::vector<double>> log_p;
  for (Generated& g : generated) {
    out.push_back(std::move(g.tokens));
    log_p.push_back(std::move(g.token_log_probs));
  }
  if (token_log_probs) *token_log_probs = std::move(log_p);
  return out;
}

std::vector<std::vector<int32_t>> Seq2SeqFraming::greedy_decode_recompute(
    std::span<const data::EncodedExample> examples, std::span<const size_t> indices, size_t max_new,
    std::vector<std::vector<double>>* token_log_probs) const {
  const int64_t rows = int64_t(indices.size()), max_len = int64_t(this->max_len());
  DecoderStart start = start_decoding(examples, indices);
  const Tensor* memory = start.memory.defined() ? &start.memory : nullptr;
  const Mask* memory_mask = memory ? &start.memory_mask : nullptr;
  std::vector<std::vector<int32_t>>& seqs = start.prompts;  // grow by one token per step
  std::vector<std::vector<int32_t>> out(rows);
  std::vector<std::vector<double>> log_p(rows);
  std::vector<bool> done(rows, false);
  for (size_t step = 0; step < max_new; ++step) {
    // Rows of different lengths are right-padded: causal and key-padding
    // masks keep every real position as if the row were alone.
    data::Batch b = data::pad_rows(seqs);
    Mask pad = padding_of(b);
    Tensor logits = start.prefix.empty()
                        ? model().decode(ids_tensor(b), &pad, memory, memory_mask)
                        : model().decode_prefix(ids_tensor(b), &pad, start.prefix);  // (B,T,V)
    const int64_t v = logits.size(-1);
    bool any = false;
    for (int64_t r = 0; r < rows; ++r) {
      if (done[r]) continue;
      const int64_t offset = (r * b.cols + int64_t(seqs[r].size()) - 1) * v;
      // As the search does: the tokens that are never text are masked first.
      const std::vector<double> logp = log_softmax_row(logits, offset, v, data::kNeverGenerated);
      const int32_t next = int32_t(std::max_element(logp.begin(), logp.end()) - logp.begin());
      if (next == data::kEosId) {
        log_p[r].push_back(logp[size_t(next)]);
        done[r] = true;
        continue;
      }
      if (int64_t(seqs[r].size()) >= max_len) {  // no room for the token: it is not output
        done[r] = true;
        continue;
      }
      log_p[r].push_back(logp[size_t(next)]);
      seqs[r].push_back(next);
      out[r].push_back(next);
      any = true;
    }
    if (!any) break;
  }
  if (token_log_probs) *token_log_probs = std::move(log_p);
  return out;
}

std::vector<data::EncodedExample> Seq2SeqFraming::encode(
    const std::vector<data::Example>& examples) const {
  return data::encode_translation(examples, vocab(), vocab());
}

int64_t Seq2SeqFraming::target_count(std::span<const data::EncodedExample> examples,
                                     std::span<const size_t> indices) const {
  int64_t n = 0;  // the target's tokens and EOS
  for (size_t i : indices) n += int64_t(examples[i].target.size()) + 1;
  return n;
}

Tensor Seq2SeqFraming::loss(std::span<const data::EncodedExample> examples,
                            std::span<const size_t> indices, const LossOptions& options,
                            std::span<const size_t> whole_batch) const {
  TeacherForced tf = teacher_forced(examples, indices);
  const int64_t rows = int64_t(indices.size());
  Tensor mean = cross_entropy(tf.logits, IntTensor{{rows, tf.cols}, std::move(tf.targets)},
                              data::kIgnoreIndex, options.label_smoothing);
  if (whole_batch.empty()) return mean;
  return mul_scalar(
      mean, double(target_count(examples, indices)) / double(target_count(examples, whole_batch)));
}

EvalTally Seq2SeqFraming::tally(std::span<const data::EncodedExample> encoded, size_t batch_size,
                                size_t first, size_t last) const {
  EvalScope scope(mutable_model());
  EvalTally t;
  size_t max_target = 0;
  for (size_t i = first; i < last; ++i) max_target = std::max(max_target, encoded[i].target.size());
  for (const auto& idx : sequential_batches(first, last, batch_size)) {
    const TeacherForced tf = teacher_forced(encoded, idx);
    const TokenScores s = score_tokens(tf.logits, tf.targets);
    t.loss_sum += s.loss_sum;
    t.loss_count += s.tokens;
    t.correct_tokens += s.correct;
    const auto outputs = decode_outputs(encoded, idx, max_target + 1, nullptr);
    for (size_t r = 0; r < idx.size(); ++r) t.exact += outputs[r] == encoded[idx[r]].target;
  }
  return t;
}

EvalMetrics Seq2SeqFraming::metrics(const EvalTally& t, size_t rows) const {
  EvalMetrics m;
  m.examples = int64_t(rows);
  m.loss = t.loss_count ? t.loss_sum / t.loss_count : 0.0;
  if (rows == 0) return m;
  m.token_accuracy = t.loss_count ? t.correct_tokens / t.loss_count : 0.0;
  m.exact_match = t.exact / double(rows);
  return m;
}

std::vector<Prediction> Seq2SeqFraming::predict_batch(std::span<const data::EncodedExample> encoded,
                                                      std::span<const size_t> rows,
                                                      size_t max_new) const {
  const size_t budget = std::min(max_len(), max_new ? max_new : kDefaultMaxNew);
  std::vector<std::vector<double>> log_probs;
  auto ids = decode_outputs(encoded, rows, budget, &log_probs);
  std::vector<Prediction> out;
  for (size_t r = 0; r < rows.size(); ++r) {
    double total = 0;
    for (double lp : log_probs[r]) total += lp;
    Prediction p{vocab().decode(ids[r]), std::exp(total)};
    p.tokens = std::move(ids[r]);
    p.token_log_probs = std::move(log_probs[r]);
    out.push_back(std::move(p));
  }
  return out;
}

Trace Seq2SeqFraming::trace(const std::string& text) const {
  EvalScope scope(mutable_model());
  Trace trace;
  trace.input = text;
  const Prediction p = predict({text})[0];
  trace.output = p.text;
  trace_rows(vocab().encode(text, "input"), p.tokens, trace);
  return trace;
}

Trace Seq2SeqFraming::trace_reference(const data::Example& example) const {
  EvalScope scope(mutable_model());
  Trace trace;
  trace.input = example.source;
  trace.output = example.target;
  trace_rows(vocab().encode(example.source, "input"), vocab().encode(example.target, "target"),
             trace);
  return trace;
}

Framing::ForcedRun Seq2SeqFraming::run_forced(const std::string& text,
                                              const std::vector<int32_t>& forced) const {
  EvalScope scope(mutable_model());
  const std::vector<int32_t> src = vocab().encode(text, "input");
  const InputNeed need = input_need_with(src.size(), forced.size());
  if (need.positions > max_len())
    throw std::invalid_argument(fmt::format(
        "'{}' with {} output tokens needs {} positions with {}, more than the model's max_len {}",
        text, forced.size(), need.positions, need.with, max_len()));
  ForcedRun run;
  run.trace.input = text;
  run.trace.output = vocab().decode(forced);
  const Tensor logits = trace_rows(src, forced, run.trace);  // (1,T,V)
  const int64_t t = logits.size(1), v = logits.size(2);
  run.next = log_softmax_row(logits, (t - 1) * v, v, data::kNeverGenerated);
  return run;
}

}  // namespace attnlab
