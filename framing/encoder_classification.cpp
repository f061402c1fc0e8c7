// Encoder classification (BERT, Perceiver): the row is [CLS] s, the model
// maps it to one logit per label. With --mlm-weight, BERT also learns to fill
// in hidden tokens of the same rows (its masked-LM head).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "data/masking.h"
#include "decode/search.h"
#include "framing/framing.h"
#include "framing/model_io.h"

namespace attnlab {
namespace {

using namespace framing;

constexpr size_t kSpecials = 1;  // [CLS]

class EncoderClassification final : public Framing {
 public:
  explicit EncoderClassification(FramingContext c) : Framing(std::move(c)) {
    if (model().config().num_classes != int64_t(labels().size()))
      throw std::invalid_argument(fmt::format("model has {} classes but the task has {} labels",
                                              model().config().num_classes, labels().size()));
  }
  std::string_view name() const override { return "encoder classification"; }

  std::vector<data::EncodedExample> encode(
      const std::vector<data::Example>& examples) const override {
    return data::encode_classification(examples, vocab(), labels());
  }

  FramedBatch frame_rows(std::span<const data::EncodedExample> examples,
                         std::span<const size_t> indices,
                         const data::LengthLimit& limit) const override {
    data::require_rows(indices);
    std::vector<std::vector<int32_t>> rows;
    FramedBatch batch;
    for (const size_t index : indices) {
      const data::EncodedExample& example = data::example_at(examples, index);
      if (example.label < 0)
        throw std::invalid_argument(fmt::format("example {} has no class label", index + 1));
      const size_t kept =
          data::kept_source_tokens(index, example.source.size(), 0, kSpecials, limit, "input");
      std::vector<int32_t>& row = rows.emplace_back();
      row.push_back(data::kClsId);
      row.insert(row.end(), example.source.begin(), example.source.begin() + int64_t(kept));
      batch.targets.push_back(example.label);
    }
    batch.input = data::pad_rows(rows);
    return batch;
  }

  std::vector<size_t> row_lengths(std::span<const data::EncodedExample> examples,
                                  const data::LengthLimit& limit) const override {
    std::vector<size_t> lengths;
    for (const auto& e : examples)
      lengths.push_back(data::row_length(e.source.size(), kSpecials, limit));
    return lengths;
  }

  int64_t target_count(std::span<const data::EncodedExample>,
                       std::span<const size_t> indices) const override {
    return int64_t(indices.size());  // one label a row
  }

  size_t input_positions(const data::EncodedExample& e) const override {
    return e.source.size() + kSpecials;
  }

  Tensor loss(std::span<const data::EncodedExample> examples, std::span<const size_t> indices,
              const LossOptions& options, std::span<const size_t> whole_batch) const override {
    const FramedBatch b = collate(examples, indices);
    Tensor loss = cross_entropy(logits(b), IntTensor{{b.input.rows}, b.targets}, data::kIgnoreIndex,
                                options.label_smoothing);
    const bool part = !whole_batch.empty();
    if (part) loss = mul_scalar(loss, double(indices.size()) / double(whole_batch.size()));
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

  EvalTally tally(std::span<const data::EncodedExample> encoded, size_t batch_size, size_t first,
                  size_t last) const override {
    EvalScope scope(mutable_model());
    EvalTally t;
    for (const auto& idx : sequential_batches(first, last, batch_size)) {
      const FramedBatch b = collate(encoded, idx);
      const Tensor scores = logits(b);  // (B,K)
      t.loss_sum +=
          cross_entropy(scores, IntTensor{{b.input.rows}, b.targets}).item() * double(idx.size());
      t.loss_count += double(idx.size());
      const int64_t k = scores.size(-1);
      for (size_t r = 0; r < idx.size(); ++r) {
        t.truth.push_back(b.targets[r]);
        t.predicted.push_back(argmax_row(scores, int64_t(r) * k, k));
      }
    }
    return t;
  }

  EvalMetrics metrics(const EvalTally& t, size_t rows) const override {
    return classification_metrics(t, rows, labels().size());
  }

  std::vector<Prediction> predict_batch(std::span<const data::EncodedExample> encoded,
                                        std::span<const size_t> rows, size_t) const override {
    const Tensor scores = logits(collate(encoded, rows));  // (B,K)
    const int64_t k = scores.size(-1);
    std::vector<Prediction> out;
    for (size_t r = 0; r < rows.size(); ++r) {
      std::vector<double> s;
      for (int64_t j = 0; j < k; ++j) s.push_back(scores.item(int64_t(r) * k + j));
      out.push_back(label_prediction(s, labels()));
    }
    return out;
  }

  Trace trace(const std::string& text) const override {
    EvalScope scope(mutable_model());
    Trace trace;
    trace.input = text;
    trace.output = predict({text})[0].text;
    std::vector<int32_t> ids{data::kClsId};
    const std::vector<int32_t> src = vocab().encode(text, "input");
    ids.insert(ids.end(), src.begin(), src.end());
    trace.axes.push_back({"input", token_names(vocab(), ids)});
    std::vector<BlockAttention> blocks;
    model().classify(one_row(ids), nullptr, &blocks);
    model().name_attention(Forward::Classify, blocks, "input", "", trace);
    return trace;
  }

  // The label distribution: a classifier writes one output.
  ForcedRun run_forced(const std::string& text, const std::vector<int32_t>& forced) const override {
    if (!forced.empty())
      throw std::invalid_argument("a classifier writes one label, not a sequence");
    EvalScope scope(mutable_model());
    std::vector<int32_t> ids{data::kClsId};
    const std::vector<int32_t> src = vocab().encode(text, "input");
    ids.insert(ids.end(), src.begin(), src.end());
    if (ids.size() > max_len())
      throw std::invalid_argument(
          fmt::format("'{}' is {} tokens with [CLS], more than the model's max_len {}", text,
                      ids.size(), max_len()));
    ForcedRun run;
    run.trace.input = text;
    run.over_labels = true;
    run.trace.axes.push_back({"input", token_names(vocab(), ids)});
    std::vector<BlockAttention> blocks;
    const Tensor logits = model().classify(one_row(ids), nullptr, &blocks);  // (1,K)
    run.next = log_softmax_row(logits, 0, logits.size(1));
    model().name_attention(Forward::Classify, blocks, "input", "", run.trace);
    return run;
  }

  size_t positions_needed(const data::Example& e,
                          const std::function<size_t(std::string_view)>& count) const override {
    return count(e.source) + kSpecials;
  }
  InputNeed input_need(size_t source) const override { return {source + kSpecials, "[CLS]"}; }

 private:
  Tensor logits(const FramedBatch& b) const {
    Mask pad = padding_of(b.input);
    return model().classify(ids_tensor(b.input), &pad);  // (B,K)
  }

  // BERT's masking of the rows of examples[indices], collated as `input`. A
  // row's masking stream depends on its example, not on its place in a batch.
  data::MaskedBatch mask_rows(const data::Batch& input, std::span<const size_t> indices,
                              uint64_t mask_seed) const {
    std::vector<uint64_t> seeds;
    for (size_t i : indices) seeds.push_back(data::mix_seeds(mask_seed, uint64_t(i)));
    return data::mask_tokens(input, seeds, vocab().size(), data::kUnkId, 0.15,
                             /*skip_prefix=*/kSpecials);
  }

  static int64_t count_masked(const std::vector<int32_t>& targets) {
    return int64_t(std::count_if(targets.begin(), targets.end(),
                                 [](int32_t t) { return t != data::kIgnoreIndex; }));
  }

  // Mean cross-entropy of the tokens mask_rows hides in `input`, and how many.
  Tensor masked_lm_loss(const data::Batch& input, std::span<const size_t> indices,
                        uint64_t mask_seed, int64_t* masked) const {
    const data::MaskedBatch batch = mask_rows(input, indices, mask_seed);
    *masked = count_masked(batch.targets);
    Mask pad = padding_of(batch.input);
    const Tensor hidden = model().encode(ids_tensor(batch.input), &pad);  // (B,T,C)
    Tensor logits = model().masked_lm_logits(hidden);                     // (B,T,V)
    return cross_entropy(logits, IntTensor{{input.rows, input.cols}, batch.targets},
                         data::kIgnoreIndex);
  }

  int64_t masked_count(std::span<const data::EncodedExample> examples,
                       std::span<const size_t> indices, uint64_t mask_seed) const {
    return count_masked(mask_rows(collate(examples, indices).input, indices, mask_seed).targets);
  }
};

}  // namespace

std::unique_ptr<Framing> frame_encoder_classification(const FramingContext& c) {
  return frame_when<EncoderClassification>(c, data::TaskKind::Classification,
                                           Architecture::Classifier);
}

}  // namespace attnlab
