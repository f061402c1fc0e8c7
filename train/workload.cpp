#include "train/workload.h"

#include "common/errors.h"
#include "data/masking.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace attnlab {

namespace {

IntTensor ids_tensor(const data::Batch& b) {
  return IntTensor{{b.rows, b.cols}, b.ids};
}
Mask padding_of(const data::Batch& b) {
  return Mask{{b.rows, b.cols}, b.padding_mask};
}

// Index lists [0, bs), [bs, 2bs), ... over the first n examples.
std::vector<std::vector<size_t>> sequential_batches(size_t n, size_t batch_size) {
  std::vector<std::vector<size_t>> out;
  for (size_t start = 0; start < n; start += batch_size) {
    std::vector<size_t> idx;
    for (size_t i = start; i < std::min(n, start + batch_size); ++i) idx.push_back(i);
    out.push_back(std::move(idx));
  }
  return out;
}

// log-softmax of one row of V logits, evaluated at `token`.
double log_prob(const Tensor& logits, int64_t row_offset, int64_t v, int32_t token) {
  return log_softmax_row(logits, row_offset, v)[size_t(token)];
}

int32_t argmax_row(const Tensor& logits, int64_t row_offset, int64_t v) {
  return dispatch(logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = logits.data<T>() + row_offset;
    return static_cast<int32_t>(std::max_element(p, p + v) - p);
  });
}

// Pads rows of ids to a (rows, cols) batch with 1 in the mask where padded.
data::Batch pad_rows(const std::vector<std::vector<int32_t>>& rows) {
  data::Batch b;
  b.rows = int64_t(rows.size());
  for (const auto& r : rows) b.cols = std::max<int64_t>(b.cols, int64_t(r.size()));
  b.ids.assign(b.rows * b.cols, data::kPadId);
  b.padding_mask.assign(b.rows * b.cols, 1);
  for (int64_t i = 0; i < b.rows; ++i)
    for (size_t j = 0; j < rows[i].size(); ++j) {
      b.ids[i * b.cols + j] = rows[i][j];
      b.padding_mask[i * b.cols + j] = 0;
    }
  return b;
}

}  // namespace

Workload::Workload(std::shared_ptr<Model> model, std::shared_ptr<const data::Vocab> vocab,
                   data::TaskKind kind, std::vector<std::string> labels)
    : model_(std::move(model)), vocab_(std::move(vocab)), kind_(kind), labels_(std::move(labels)) {
  const bool classification = kind == data::TaskKind::Classification;
  if (kind == data::TaskKind::LanguageModel) {
    if (model_->architecture() != Architecture::DecoderOnly)
      throw std::invalid_argument(fmt::format(
          "a language model predicts each next token of a text: it needs a decoder-only model "
          "(--model gpt), not {}",
          family_name(model_->config().family)));
    layout_ = data::Layout::LanguageModel;
    return;
  }
  switch (model_->architecture()) {
    case Architecture::Classifier:
      if (!classification)
        throw std::invalid_argument(fmt::format(
            "a {} model is an encoder without a decoder: it classifies but cannot translate; use "
            "--model gpt or --model t5 for translation tasks",
            family_name(model_->config().family)));
      if (model_->config().num_classes != int64_t(labels_.size()))
        throw std::invalid_argument(fmt::format("model has {} classes but the task has {} labels",
                                                model_->config().num_classes, labels_.size()));
      layout_ = data::Layout::EncoderClassifier;
      break;
    case Architecture::DecoderOnly:
      layout_ = data::Layout::PrefixLm;
      break;
    case Architecture::EncoderDecoder:
      layout_ = data::Layout::EncoderDecoder;
      break;
  }
  if (classification && layout_ != data::Layout::EncoderClassifier)
    for (const auto& label : labels_) {
      label_tokens_.push_back(vocab_->encode(label, "label"));
      label_of_tokens_.emplace(label_tokens_.back(), int(label_tokens_.size() - 1));
      longest_label_ = std::max(longest_label_, label_tokens_.back().size());
    }
}

std::vector<int> Workload::decode_labels(std::span<const data::EncodedExample> examples,
                                         std::span<const size_t> indices,
                                         std::vector<std::vector<double>>* token_log_probs,
                                         std::vector<std::vector<int32_t>>* outputs_out) const {
  auto outputs = decode_outputs(examples, indices, longest_label_ + 1, token_log_probs);
  std::vector<int> labels;
  for (const auto& tokens : outputs) {
    const auto it = label_of_tokens_.find(tokens);
    labels.push_back(it == label_of_tokens_.end() ? -1 : it->second);
  }
  if (outputs_out) *outputs_out = std::move(outputs);
  return labels;
}

void Workload::check_lengths(std::span<const data::Example> examples, const char* split,
                             std::span<const std::string> origins) const {
  const auto where = [&](size_t i) {
    return i < origins.size() ? fmt::format("{}: the {} example", origins[i], split)
                              : fmt::format("{} example {}", split, i + 1);
  };
  // Counted, not encoded: an over-long example costs no memory before it is
  // refused. Where it is is spelled out only for a refusal.
  const auto tokens_of = [&](std::string_view text, size_t i) {
    try {
      return data::count_tokens(vocab_->kind(), text);
    } catch (const InputError& e) {
      throw InputError(fmt::format("{}: {}", where(i), e.what()));
    }
  };
  if (layout_ == data::Layout::LanguageModel) {  // one stream: it must hold a block and its next
    size_t tokens = 0;
    for (size_t i = 0; i < examples.size(); ++i) tokens += tokens_of(examples[i].source, i);
    if (int64_t(tokens) < block_size() + 1)
      throw std::invalid_argument(fmt::format(
          "the {} text{} has {} tokens; a row needs block_size + 1 = {} (give more text or a "
          "smaller --block-size)",
          split, origins.empty() ? "" : fmt::format(" (from {})", origins.front()), tokens,
          block_size() + 1));
    return;
  }
  const size_t max_len = size_t(model_->config().max_len);
  for (size_t i = 0; i < examples.size(); ++i) {
    const size_t src = tokens_of(examples[i].source, i);
    // The target's text, or for text-to-text classification the label's tokens.
    const size_t tgt =
        layout_ == data::Layout::EncoderClassifier ? 0 : tokens_of(examples[i].target, i);
    size_t need = 0;
    switch (layout_) {
      case data::Layout::EncoderClassifier:
        need = src + 1;
        break;  // [CLS] src
      case data::Layout::PrefixLm:
        need = src + tgt + 3;
        break;  // BOS src SEP tgt EOS
      case data::Layout::EncoderDecoder:
        need = std::max(src + 1, tgt + 1);
        break;  // src EOS | BOS tgt
      case data::Layout::LanguageModel:
        break;  // checked above, as blocks of one stream
    }
    if (need > max_len)
      throw std::invalid_argument(fmt::format(
          "{} needs {} positions but the model's max_len is {} (raise it with --max-len N)",
          where(i), need, max_len));
  }
}

int64_t Workload::target_count(std::span<const data::EncodedExample> examples,
                               std::span<const size_t> indices) const {
  switch (layout_) {
    case data::Layout::LanguageModel:  // every position of a block predicts the next token
      return int64_t(indices.size()) * block_size();
    case data::Layout::EncoderClassifier:  // one label a row
      return int64_t(indices.size());
    case data::Layout::PrefixLm:
    case data::Layout::EncoderDecoder: {  // the target's tokens and EOS
      int64_t n = 0;
      for (size_t i : indices) n += int64_t(examples[i].target.size()) + 1;
      return n;
    }
  }
  return 0;
}

data::LengthLimit Workload::length_limit() const {
  return data::LengthLimit{size_t(model_->config().max_len), data::Overflow::Error};
}

std::vector<data::EncodedExample> Workload::encode(
    const std::vector<data::Example>& examples) const {
  if (kind_ == data::TaskKind::Translation)
    return data::encode_translation(examples, *vocab_, *vocab_);
  if (kind_ == data::TaskKind::LanguageModel) {  // the examples in order, as one token stream
    data::EncodedExample stream;
    for (size_t i = 0; i < examples.size(); ++i) {
      const auto ids = vocab_->encode(examples[i].source, fmt::format("line {}", i + 1));
      stream.source.insert(stream.source.end(), ids.begin(), ids.end());
    }
    return {std::move(stream)};
  }
  std::vector<data::EncodedExample> out = data::encode_classification(examples, *vocab_, labels_);
  if (layout_ !=
      data::Layout::EncoderClassifier)  // text-to-text: the label's tokens are the target
    for (auto& e : out) e.target = label_tokens_[e.label];
  return out;
}

Tensor Workload::logits_prefix_lm(const data::PrefixLmBatch& b) const {
  Mask pad = padding_of(b.input);
  return model_->decode(ids_tensor(b.input), &pad);  // (B,T,V)
}

Tensor Workload::logits_seq2seq(const data::Seq2SeqBatch& b) const {
  Mask src_pad = padding_of(b.encoder), tgt_pad = padding_of(b.decoder);
  const Tensor memory = model_->encode(ids_tensor(b.encoder), &src_pad);      // (B,Ts,C)
  return model_->decode(ids_tensor(b.decoder), &tgt_pad, &memory, &src_pad);  // (B,Tt,V)
}

Tensor Workload::logits_classifier(const data::ClassificationBatch& b) const {
  Mask pad = padding_of(b.input);
  return model_->classify(ids_tensor(b.input), &pad);  // (B,K)
}

namespace {

// BERT's masking of the rows of examples[indices], collated as `input`. A
// row's masking stream depends on its example, not on its place in a batch.
data::MaskedBatch mask_rows(const data::Batch& input, std::span<const size_t> indices,
                            uint64_t mask_seed, int32_t vocab_size) {
  std::vector<uint64_t> seeds;
  for (size_t i : indices) seeds.push_back(data::mix_seeds(mask_seed, uint64_t(i)));
  return data::mask_tokens(input, seeds, vocab_size, data::kUnkId, 0.15, /*skip_prefix=*/1);
}

int64_t count_masked(const std::vector<int32_t>& targets) {
  return int64_t(std::count_if(targets.begin(), targets.end(),
                               [](int32_t t) { return t != data::kIgnoreIndex; }));
}

}  // namespace

Tensor Workload::masked_lm_loss(const data::Batch& input, std::span<const size_t> indices,
                                uint64_t mask_seed, int64_t* masked) const {
  const data::MaskedBatch batch = mask_rows(input, indices, mask_seed, vocab_->size());
  if (masked) *masked = count_masked(batch.targets);
  Mask pad = padding_of(batch.input);
  const Tensor hidden = model_->encode(ids_tensor(batch.input), &pad);  // (B,T,C)
  Tensor logits = model_->masked_lm_logits(hidden);                     // (B,T,V)
  return cross_entropy(logits, IntTensor{{input.rows, input.cols}, batch.targets},
                       data::kIgnoreIndex);
}

int64_t Workload::masked_count(std::span<const data::EncodedExample> examples,
                               std::span<const size_t> indices, uint64_t mask_seed) const {
  const data::Batch input = data::collate_classification(examples, indices, length_limit()).input;
  return count_masked(mask_rows(input, indices, mask_seed, vocab_->size()).targets);
}

Workload::TeacherForced Workload::teacher_forced(std::span<const data::EncodedExample> examples,
                                                 std::span<const size_t> indices) const {
  const data::LengthLimit limit = length_limit();
  if (layout_ == data::Layout::PrefixLm) {
    auto b = data::collate_prefix_lm(examples, indices, limit);
    return {logits_prefix_lm(b), std::move(b.targets), b.input.cols};
  }
  auto b = data::collate_seq2seq(examples, indices, limit);
  return {logits_seq2seq(b), std::move(b.targets), b.decoder.cols};
}

Tensor Workload::cross_entropy_of_blocks(std::span<const data::EncodedExample> stream,
                                         std::span<const size_t> offsets,
                                         double label_smoothing) const {
  const std::vector<int32_t>& tokens = stream[0].source;
  const int64_t rows = int64_t(offsets.size()), t = block_size();
  IntTensor ids{{rows, t}, {}}, targets{{rows, t}, {}};
  for (size_t o : offsets) {
    if (o + size_t(t) + 1 > tokens.size())
      throw std::out_of_range(fmt::format("block at {} runs past the {} tokens", o, tokens.size()));
    ids.data.insert(ids.data.end(), tokens.begin() + int64_t(o), tokens.begin() + int64_t(o) + t);
    targets.data.insert(targets.data.end(), tokens.begin() + int64_t(o) + 1,
                        tokens.begin() + int64_t(o) + t + 1);
  }
  Tensor logits = model_->decode(ids, nullptr);  // (B,T,V): each position predicts the next
  return cross_entropy(logits, targets, data::kIgnoreIndex, label_smoothing);
}

Tensor Workload::loss(std::span<const data::EncodedExample> examples,
                      std::span<const size_t> indices, const LossOptions& options,
                      std::span<const size_t> whole_batch) const {
  const data::LengthLimit limit = length_limit();
  const double label_smoothing = options.label_smoothing;
  // A part of a batch: its mean times its share of the batch's target positions.
  const bool part = !whole_batch.empty();
  const auto share = [&](Tensor mean) {
    if (!part) return mean;
    return mul_scalar(mean, double(target_count(examples, indices)) /
                                double(target_count(examples, whole_batch)));
  };
  switch (layout_) {
    case data::Layout::LanguageModel:
      return share(cross_entropy_of_blocks(examples, indices, label_smoothing));
    case data::Layout::EncoderClassifier: {
      auto b = data::collate_classification(examples, indices, limit);
      Tensor loss = share(cross_entropy(logits_classifier(b), IntTensor{{b.input.rows}, b.labels},
                                        data::kIgnoreIndex, label_smoothing));
      if (options.mlm_weight > 0) {
        int64_t masked = 0;
        Tensor mlm = masked_lm_loss(b.input, indices, options.mask_seed, &masked);
        // Its own denominator: the masked tokens of the whole batch.
        double weight = options.mlm_weight;
        if (part)
          weight *= double(masked) / double(masked_count(examples, whole_batch, options.mask_seed));
        loss = add(loss, mul_scalar(mlm, weight));
      }
      return loss;
    }
    case data::Layout::PrefixLm:
    case data::Layout::EncoderDecoder: {
      TeacherForced tf = teacher_forced(examples, indices);
      const int64_t rows = int64_t(indices.size());
      return share(cross_entropy(tf.logits, IntTensor{{rows, tf.cols}, std::move(tf.targets)},
                                 data::kIgnoreIndex, label_smoothing));
    }
  }
  return Tensor();
}

Workload::DecoderStart Workload::start_decoding(std::span<const data::EncodedExample> examples,
                                                std::span<const size_t> indices) const {
  const int64_t rows = int64_t(indices.size()), max_len = model_->config().max_len;
  DecoderStart start;
  if (layout_ == data::Layout::PrefixLm) {
    // The condition is part of the decoder's own sequence: BOS src SEP.
    for (int64_t r = 0; r < rows; ++r) {
      const auto& src = examples[indices[r]].source;
      std::vector<int32_t> prompt{data::kBosId};
      prompt.insert(prompt.end(), src.begin(), src.end());
      prompt.push_back(data::kSepId);
      if (int64_t(prompt.size()) > max_len)
        throw std::invalid_argument(
            fmt::format("input {} has {} tokens with BOS and SEP, more than the model's max_len {}",
                        indices[r] + 1, prompt.size(), max_len));
      start.prompts.push_back(std::move(prompt));
    }
    return start;
  }
  // Encoder-decoder: the source is encoded once, for every step.
  std::vector<std::vector<int32_t>> sources(rows);
  for (int64_t r = 0; r < rows; ++r) {
    sources[r] = examples[indices[r]].source;
    sources[r].push_back(data::kEosId);
    // Relative positions take any length, but attention memory grows with its square.
    if (int64_t(sources[r].size()) > max_len)
      throw std::invalid_argument(
          fmt::format("input {} has {} tokens with EOS, more than the model's max_len {}",
                      indices[r] + 1, sources[r].size(), max_len));
  }
  data::Batch src = pad_rows(sources);
  start.memory_mask = padding_of(src);
  start.memory = model_->encode(ids_tensor(src), &start.memory_mask);  // (B,Ts,C)
  start.prompts.assign(rows, std::vector<int32_t>{data::kBosId});
  return start;
}

std::vector<std::vector<int32_t>> Workload::decode_outputs(
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
  std::vector<Generated> generated =
      generate(*model_, start.prompts, memory, memory ? &start.memory_mask : nullptr, options);
  std::vector<std::vector<int32_t>> out;
  std::vector<std::vector<double>> log_p;
  for (Generated& g : generated) {
    out.push_back(std::move(g.tokens));
    log_p.push_back(std::move(g.token_log_probs));
  }
  if (token_log_probs) *token_log_probs = std::move(log_p);
  return out;
}

std::vector<std::vector<int32_t>> Workload::greedy_decode_recompute(
    std::span<const data::EncodedExample> examples, std::span<const size_t> indices, size_t max_new,
    std::vector<std::vector<double>>* token_log_probs) const {
  const int64_t rows = int64_t(indices.size()), max_len = model_->config().max_len;
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
    data::Batch b = pad_rows(seqs);
    Mask pad = padding_of(b);
    Tensor logits = model_->decode(ids_tensor(b), &pad, memory, memory_mask);  // (B,T,V)
    const int64_t v = logits.size(-1);
    bool any = false;
    for (int64_t r = 0; r < rows; ++r) {
      if (done[r]) continue;
      const int64_t offset = (r * b.cols + int64_t(seqs[r].size()) - 1) * v;
      const int32_t next = argmax_row(logits, offset, v);
      if (next == data::kEosId) {
        log_p[r].push_back(log_prob(logits, offset, v, next));
        done[r] = true;
        continue;
      }
      if (int64_t(seqs[r].size()) >= max_len) {  // no room for the token: it is not output
        done[r] = true;
        continue;
      }
      log_p[r].push_back(log_prob(logits, offset, v, next));
      seqs[r].push_back(next);
      out[r].push_back(next);
      any = true;
    }
    if (!any) break;
  }
  if (token_log_probs) *token_log_probs = std::move(log_p);
  return out;
}

std::vector<std::vector<double>> Workload::label_log_likelihoods(
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
    const TeacherForced tf = teacher_forced(candidates, idx);
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

EvalMetrics Workload::evaluate(std::span<const data::EncodedExample> encoded, size_t batch_size,
                               size_t max_examples) const {
  const size_t rows = eval_rows(encoded, max_examples);
  return metrics(tally(encoded, batch_size, 0, rows), rows);
}

size_t Workload::eval_rows(std::span<const data::EncodedExample> encoded,
                           size_t max_examples) const {
  if (layout_ == data::Layout::LanguageModel) {  // non-overlapping blocks of the held-out stream
    const size_t tokens = encoded.empty() ? 0 : encoded[0].source.size();
    const size_t blocks = tokens > 1 ? (tokens - 1) / size_t(block_size()) : 0;
    return max_examples ? std::min(max_examples, blocks) : blocks;
  }
  return max_examples ? std::min(max_examples, encoded.size()) : encoded.size();
}

Workload::EvalTally Workload::tally(std::span<const data::EncodedExample> encoded,
                                    size_t batch_size, size_t first, size_t last) const {
  EvalScope scope(*model_);
  EvalTally t;
  // Row numbers first..last-1 in batches of batch_size.
  std::vector<std::vector<size_t>> batches;
  for (const auto& idx : sequential_batches(last - first, batch_size)) {
    batches.emplace_back();
    for (size_t i : idx) batches.back().push_back(first + i);
  }
  if (layout_ == data::Layout::LanguageModel) {
    for (const auto& idx : batches) {
      std::vector<size_t> offsets;
      for (size_t i : idx) offsets.push_back(i * size_t(block_size()));
      t.loss_sum += cross_entropy_of_blocks(encoded, offsets, 0.0).item() * double(idx.size());
      t.loss_count += double(idx.size());
    }
    return t;
  }
  const data::LengthLimit limit = length_limit();
  size_t max_target = 0;
  for (size_t i = first; i < last; ++i) max_target = std::max(max_target, encoded[i].target.size());
  for (const auto& idx : batches) {
    if (layout_ == data::Layout::EncoderClassifier) {
      auto b = data::collate_classification(encoded, idx, limit);
      Tensor logits = logits_classifier(b);  // (B,K)
      t.loss_sum +=
          cross_entropy(logits, IntTensor{{b.input.rows}, b.labels}).item() * double(idx.size());
      t.loss_count += double(idx.size());
      const int64_t k = logits.size(-1);
      for (size_t r = 0; r < idx.size(); ++r) {
        t.truth.push_back(b.labels[r]);
        t.predicted.push_back(argmax_row(logits, int64_t(r) * k, k));
      }
      continue;
    }
    // Teacher-forced loss and token accuracy.
    const TeacherForced tf = teacher_forced(encoded, idx);
    const Tensor& logits = tf.logits;
    const std::vector<int32_t>& targets = tf.targets;
    const int64_t cols = tf.cols;
    const int64_t v = logits.size(-1);
    int64_t tokens = 0;
    for (size_t r = 0; r < idx.size(); ++r)
      for (int64_t c = 0; c < cols; ++c) {
        const int32_t tok = targets[r * cols + c];
        if (tok == data::kIgnoreIndex) continue;
        ++tokens;
        t.correct_tokens += argmax_row(logits, (int64_t(r) * cols + c) * v, v) == tok;
      }
    t.loss_sum += cross_entropy(logits, IntTensor{{int64_t(idx.size()), cols}, targets}).item() *
                  double(tokens);
    t.loss_count += double(tokens);
    if (kind_ == data::TaskKind::Classification && !scores_labels()) {
      const auto labels = decode_labels(encoded, idx, nullptr, nullptr);
      for (size_t r = 0; r < idx.size(); ++r) {
        t.truth.push_back(encoded[idx[r]].label);
        t.predicted.push_back(labels[r]);
      }
    } else if (kind_ == data::TaskKind::Classification) {
      auto ll = label_log_likelihoods(encoded, idx);
      for (size_t r = 0; r < idx.size(); ++r) {
        t.truth.push_back(encoded[idx[r]].label);
        t.predicted.push_back(std::max_element(ll[r].begin(), ll[r].end()) - ll[r].begin());
      }
    } else {
      auto outputs = decode_outputs(encoded, idx, max_target + 1, nullptr);
      for (size_t r = 0; r < idx.size(); ++r) t.exact += outputs[r] == encoded[idx[r]].target;
    }
  }
  return t;
}

EvalMetrics Workload::metrics(const EvalTally& t, size_t rows) const {
  EvalMetrics m;
  m.examples = int64_t(rows);
  m.loss = t.loss_count ? t.loss_sum / t.loss_count : 0.0;
  if (layout_ == data::Layout::LanguageModel) {
    m.language_model = true;
    m.word_tokens = vocab_->kind() == data::TokenizerKind::Word;
    return m;
  }
  m.classification = kind_ == data::TaskKind::Classification;
  if (rows == 0) return m;
  if (m.classification) {
    const std::vector<int> truth(t.truth.begin(), t.truth.end());
    const std::vector<int> predicted(t.predicted.begin(), t.predicted.end());
    score_classification(m, truth, predicted, int(labels_.size()));
  } else {
    m.token_accuracy = t.loss_count ? t.correct_tokens / t.loss_count : 0.0;
    m.exact_match = t.exact / double(rows);
  }
  return m;
}

void Workload::check_prediction_inputs(std::span<const data::EncodedExample> inputs) const {
  // Every input is measured before any is predicted, so a long one is named
  // as the input it is and never stops a batch halfway.
  const size_t max_len = size_t(model_->config().max_len);
  // Scored text-to-text labels are teacher-forced after the input.
  const size_t longest_label =
      kind_ == data::TaskKind::Classification && scores_labels() ? longest_label_ : 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const size_t src = inputs[i].source.size();
    size_t need = 0;
    const char* with = "";
    switch (layout_) {
      case data::Layout::EncoderClassifier:
        need = src + 1, with = "[CLS]";
        break;
      case data::Layout::PrefixLm:
        need = src + 2 + (longest_label ? longest_label + 1 : 0);
        with = longest_label ? "BOS, SEP, the longest label and EOS" : "BOS and SEP";
        break;
      case data::Layout::EncoderDecoder:
        need = src + 1, with = "EOS";
        break;
      case data::Layout::LanguageModel:
        break;  // refused by predict
    }
    if (need > max_len)
      throw std::invalid_argument(
          fmt::format("input {} has {} tokens with {}, more than the model's max_len {}", i + 1,
                      need, with, max_len));
  }
}

std::vector<Prediction> Workload::predict(const std::vector<std::string>& texts, size_t batch_size,
                                          size_t max_new) const {
  if (layout_ == data::Layout::LanguageModel)
    throw std::invalid_argument(
        "a language model continues text: use attnlab generate --prompt TEXT, not predict");
  EvalScope scope(*model_);
  std::vector<data::EncodedExample> encoded;
  for (size_t i = 0; i < texts.size(); ++i)
    encoded.push_back(
        data::EncodedExample{vocab_->encode(texts[i], fmt::format("input {}", i + 1)), {}, -1});
  for (auto& e : encoded) e.label = 0;  // classifier collation wants a label; it is not read
  check_prediction_inputs(encoded);
  std::vector<Prediction> out;
  for (const auto& idx : sequential_batches(encoded.size(), batch_size)) {
    if (kind_ == data::TaskKind::Translation) {
      std::vector<std::vector<double>> log_probs;
      const size_t budget =
          std::min(size_t(model_->config().max_len), max_new ? max_new : kDefaultMaxNew);
      auto ids = decode_outputs(encoded, idx, budget, &log_probs);
      for (size_t r = 0; r < idx.size(); ++r) {
        double total = 0;
        for (double lp : log_probs[r]) total += lp;
        Prediction p{vocab_->decode(ids[r]), std::exp(total)};
        p.tokens = std::move(ids[r]);
        p.token_log_probs = std::move(log_probs[r]);
        out.push_back(std::move(p));
      }
      continue;
    }
    if (layout_ != data::Layout::EncoderClassifier && !scores_labels()) {
      // Many labels: the greedy output, which may be no label at all.
      std::vector<std::vector<double>> log_probs;
      std::vector<std::vector<int32_t>> outputs;
      const auto labels = decode_labels(encoded, idx, &log_probs, &outputs);
      for (size_t r = 0; r < idx.size(); ++r) {
        double total = 0;
        for (double lp : log_probs[r]) total += lp;
        out.push_back(Prediction{labels[r] >= 0 ? labels_[size_t(labels[r])]
                                                : "(no label) " + vocab_->decode(outputs[r]),
                                 std::exp(total)});
      }
      continue;
    }
    // Classification: a distribution over the labels.
    std::vector<std::vector<double>> scores;
    if (layout_ == data::Layout::EncoderClassifier) {
      auto b = data::collate_classification(encoded, idx, length_limit());
      Tensor logits = logits_classifier(b);
      const int64_t k = logits.size(-1);
      for (size_t r = 0; r < idx.size(); ++r) {
        scores.emplace_back();
        for (int64_t j = 0; j < k; ++j) scores.back().push_back(logits.item(int64_t(r) * k + j));
      }
    } else {
      scores = label_log_likelihoods(encoded, idx);
    }
    for (const auto& s : scores) {  // softmax over the labels' scores
      const double mx = *std::max_element(s.begin(), s.end());
      double denom = 0;
      for (double x : s) denom += std::exp(x - mx);
      const size_t best = size_t(std::max_element(s.begin(), s.end()) - s.begin());
      Prediction p{labels_[best], 1.0 / denom};
      for (double x : s) p.label_probabilities.push_back(std::exp(x - mx) / denom);
      out.push_back(std::move(p));
    }
  }
  return out;
}

}  // namespace attnlab

namespace attnlab {

namespace {

// (1,H,Tq,Tk) or (1,T,C) of a batch of one -> without the batch dim.
Tensor first_row(const Tensor& t) {
  Shape s(t.shape().begin() + 1, t.shape().end());
  return reshape(t.clone(), s);
}

void add_stack(Trace& trace, const std::string& stack, const std::vector<BlockAttention>& blocks,
               const char* self_kind, const std::string& axis, const std::string& memory_axis) {
  for (size_t i = 0; i < blocks.size(); ++i) {
    const std::string layer = fmt::format("{}/layers/{}", stack, i);
    if (blocks[i].self_weights.defined())
      trace.maps.push_back(
          {layer + "/self_attn", self_kind, axis, axis, first_row(blocks[i].self_weights)});
    if (blocks[i].cross_weights.defined())
      trace.maps.push_back(
          {layer + "/cross_attn", "cross", axis, memory_axis, first_row(blocks[i].cross_weights)});
    if (blocks[i].output.defined())
      trace.states.push_back({layer, axis, first_row(blocks[i].output)});
  }
}

std::vector<std::string> tokens_of(const data::Vocab& vocab, const std::vector<int32_t>& ids) {
  std::vector<std::string> out;
  for (int32_t id : ids) out.push_back(vocab.token_of(id));
  return out;
}

}  // namespace

Trace Workload::trace(const std::string& text) const {
  EvalScope scope(*model_);
  Trace trace;
  trace.input = text;
  if (layout_ == data::Layout::LanguageModel) {
    // The text itself (its last max_len tokens), and the token that would come next.
    std::vector<int32_t> ids = vocab_->encode(text, "input");
    if (ids.empty()) throw std::invalid_argument("trace: the input has no token");
    const int64_t context = model_->config().max_len;
    if (int64_t(ids.size()) > context) ids.erase(ids.begin(), ids.end() - context);
    std::vector<BlockAttention> blocks;
    const Tensor logits = model_->decode(IntTensor{{1, int64_t(ids.size())}, ids}, nullptr, nullptr,
                                         nullptr, &blocks);  // (1,T,V)
    const int64_t v = logits.size(-1);
    trace.output = vocab_->token_of(argmax_row(logits, (int64_t(ids.size()) - 1) * v, v));
    trace.axes.push_back({"sequence", tokens_of(*vocab_, ids)});
    add_stack(trace, "decoder", blocks, "causal self", "sequence", "");
    return trace;
  }
  const Prediction p = predict({text})[0];
  trace.output = p.text;
  // What follows the condition: the generated tokens, or the predicted label's.
  std::vector<int32_t> out = p.tokens;
  if (kind_ == data::TaskKind::Classification && layout_ != data::Layout::EncoderClassifier) {
    const auto it = std::find(labels_.begin(), labels_.end(), p.text);
    out = label_tokens_[size_t(it - labels_.begin())];
  }
  const std::vector<int32_t> src = vocab_->encode(text, "input");
  const auto row = [](const std::vector<int32_t>& ids) {
    return IntTensor{{1, int64_t(ids.size())}, ids};
  };
  std::vector<BlockAttention> first, second;
  switch (layout_) {
    case data::Layout::EncoderClassifier: {
      std::vector<int32_t> ids{data::kClsId};
      ids.insert(ids.end(), src.begin(), src.end());
      trace.axes.push_back({"input", tokens_of(*vocab_, ids)});
      model_->classify(row(ids), nullptr, &first);
      if (model_->config().family == Family::Perceiver) {
        std::vector<std::string> slots;
        for (int64_t l = 0; l < model_->config().num_latents; ++l)
          slots.push_back(fmt::format("L{}", l));
        trace.axes.push_back({"latents", slots});
        trace.maps.push_back({"latent/cross_attn", "latent cross", "latents", "input",
                              first_row(first[0].cross_weights)});
        trace.states.push_back({"latent/cross_step", "latents", first_row(first[0].output)});
        add_stack(trace, "latent", {first.begin() + 1, first.end()}, "bidirectional self",
                  "latents", "");
      } else {
        add_stack(trace, "encoder", first, "bidirectional self", "input", "");
      }
      break;
    }
    case data::Layout::PrefixLm: {
      std::vector<int32_t> ids{data::kBosId};
      ids.insert(ids.end(), src.begin(), src.end());
      ids.push_back(data::kSepId);
      ids.insert(ids.end(), out.begin(), out.end());
      if (int64_t(ids.size()) > model_->config().max_len)
        ids.resize(size_t(model_->config().max_len));
      trace.axes.push_back({"sequence", tokens_of(*vocab_, ids)});
      model_->decode(row(ids), nullptr, nullptr, nullptr, &first);
      add_stack(trace, "decoder", first, "causal self", "sequence", "");
      break;
    }
    case data::Layout::EncoderDecoder: {
      std::vector<int32_t> enc = src;
      enc.push_back(data::kEosId);
      std::vector<int32_t> dec{data::kBosId};
      dec.insert(dec.end(), out.begin(), out.end());
      trace.axes.push_back({"input", tokens_of(*vocab_, enc)});
      trace.axes.push_back({"decoder", tokens_of(*vocab_, dec)});
      const Tensor memory = model_->encode(row(enc), nullptr, &first);
      model_->decode(row(dec), nullptr, &memory, nullptr, &second);
      add_stack(trace, "encoder", first, "bidirectional self", "input", "");
      add_stack(trace, "decoder", second, "causal self", "decoder", "input");
      break;
    }
    case data::Layout::LanguageModel:
      break;  // traced above, as one stream
  }
  return trace;
}

}  // namespace attnlab
