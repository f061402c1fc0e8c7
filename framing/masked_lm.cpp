// Masked language model (BERT on text): a row is [CLS] and the next
// block_size - 1 tokens of the stream; 15% of those tokens are chosen, and
// of them 80% become <mask>, 10% a random token and 10% stay (BERT's
// recipe, data/text_objectives.h). The encoder reads the row both ways and
// the masked-LM head predicts every chosen token; the loss is their mean.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "data/text_objectives.h"
#include "framing/model_io.h"
#include "framing/text_stream.h"

namespace attnlab {
namespace {

using namespace framing;

constexpr size_t kSpecials = 1;  // [CLS]

class MaskedLanguageModel final : public TextStreamFraming {
 public:
  explicit MaskedLanguageModel(FramingContext c)
      : TextStreamFraming(std::move(c)), mask_id_(vocab().reserved_id(data::kMaskToken)) {}
  std::string_view name() const override { return "masked language model"; }

  // Every row chooses the same number of tokens.
  int64_t target_count(std::span<const data::EncodedExample>,
                       std::span<const size_t> offsets) const override {
    return int64_t(offsets.size()) * chosen_per_row();
  }

  Tensor loss(std::span<const data::EncodedExample> stream, std::span<const size_t> offsets,
              const LossOptions& options, std::span<const size_t> whole_batch) const override {
    return share_of_batch(masked_loss(stream, offsets, options.mask_seed), offsets, whole_batch);
  }

  EvalTally tally(std::span<const data::EncodedExample> encoded, size_t batch_size, size_t first,
                  size_t last) const override {
    EvalScope scope(mutable_model());
    EvalTally t;
    for (const auto& rows : sequential_batches(first, last, batch_size)) {
      const double predicted = double(rows.size() * size_t(chosen_per_row()));
      const std::vector<size_t> offsets = eval_offsets(rows);
      t.loss_sum += masked_loss(encoded, offsets, kHeldOutSeed).item() * predicted;
      t.loss_count += predicted;
      t.predicted_chars +=
          predicted * chars_per_token(encoded, offsets, size_t(block_size()) - kSpecials);
    }
    return t;
  }

  // The encoder's attention over [CLS] and the text; the output is what the
  // head reads at every position.
  Trace trace(const std::string& text) const override {
    EvalScope scope(mutable_model());
    Trace trace;
    trace.input = text;
    std::vector<int32_t> ids{data::kClsId};
    const std::vector<int32_t> src = vocab().encode(text, "input");
    ids.insert(ids.end(), src.begin(), src.begin() + int64_t(std::min(src.size(), max_len() - 1)));
    std::vector<BlockAttention> blocks;
    const Tensor logits = model().masked_lm_logits(model().encode(one_row(ids), nullptr, &blocks));
    trace.output = vocab().decode(argmax_rows(logits, 1));
    trace.axes.push_back({"input", token_names(vocab(), ids)});
    model().name_attention(Forward::Encode, blocks, "input", "", trace);
    return trace;
  }

  // The first held-out row with its chosen tokens shown as _, and as the
  // model fills them in.
  std::string sample(std::span<const data::EncodedExample> held_out, uint64_t seed) const override {
    EvalScope scope(mutable_model());
    const size_t length = std::min<size_t>(60, size_t(block_size()) - kSpecials);
    std::vector<int32_t> row{data::kClsId};
    const std::vector<int32_t> text = tokens_at(held_out, 0, length);
    row.insert(row.end(), text.begin(), text.end());
    const data::MaskedRow masked = mask(row, row_seed(seed, 0));
    const Tensor logits = model().masked_lm_logits(model().encode(one_row(masked.input), nullptr));
    const std::vector<int32_t> best = argmax_rows(logits, 0);
    std::string shown, filled;
    for (size_t i = kSpecials; i < row.size(); ++i) {
      const bool chosen = masked.targets[i] != data::kIgnoreIndex;
      shown += chosen ? std::string("_") : vocab().decode(std::vector<int32_t>{row[i]});
      filled += vocab().decode(std::vector<int32_t>{chosen ? best[i] : row[i]});
    }
    return fmt::format("{}  ->  {}", shown, filled);
  }

 protected:
  // The rows at `offsets` masked as held-out rows are.
  FramedBatch frame_rows(std::span<const data::EncodedExample> stream,
                         std::span<const size_t> offsets, const data::LengthLimit&) const override {
    return masked_rows(stream, offsets, kHeldOutSeed);
  }

 private:
  int64_t chosen_per_row() const {
    const int64_t n = block_size() - int64_t(kSpecials);
    return std::clamp<int64_t>(std::llround(0.15 * double(n)), 1, n);
  }

  data::MaskedRow mask(const std::vector<int32_t>& row, uint64_t seed) const {
    return data::mask_row(row, int64_t(kSpecials), seed, mask_id_, data::kNumSpecialTokens,
                          vocab().ordinary_end());
  }

  // [CLS] and block_size - 1 tokens at each offset, masked from `seed`; the
  // targets are the chosen tokens.
  FramedBatch masked_rows(std::span<const data::EncodedExample> stream,
                          std::span<const size_t> offsets, uint64_t seed) const {
    std::vector<std::vector<int32_t>> inputs, targets;
    for (const size_t o : offsets) {
      std::vector<int32_t> row{data::kClsId};
      const std::vector<int32_t> text = tokens_at(stream, o, size_t(block_size()) - kSpecials);
      row.insert(row.end(), text.begin(), text.end());
      data::MaskedRow masked = mask(row, row_seed(seed, o));
      inputs.push_back(std::move(masked.input));
      targets.push_back(std::move(masked.targets));
    }
    FramedBatch batch;
    batch.input = data::pad_rows(inputs);  // rows of one length: nothing is padded
    batch.targets = data::pad_targets(targets, batch.input.cols);
    return batch;
  }

  // The mean cross-entropy of the chosen tokens of the rows at `offsets`.
  Tensor masked_loss(std::span<const data::EncodedExample> stream, std::span<const size_t> offsets,
                     uint64_t seed) const {
    const FramedBatch b = masked_rows(stream, offsets, seed);
    const Tensor hidden = model().encode(ids_tensor(b.input), nullptr);  // (B,T,C)
    const Tensor logits = model().masked_lm_logits(hidden);              // (B,T,V)
    return cross_entropy(logits, IntTensor{{b.input.rows, b.input.cols}, b.targets},
                         data::kIgnoreIndex);
  }

  // The argmax token at every position of row `row` of (B,T,V) logits.
  static std::vector<int32_t> argmax_rows(const Tensor& logits, int64_t first_position) {
    const int64_t t = logits.size(1), v = logits.size(2);
    std::vector<int32_t> out;
    for (int64_t i = first_position; i < t; ++i) out.push_back(argmax_row(logits, i * v, v));
    return out;
  }

  int32_t mask_id_;
};

}  // namespace

std::unique_ptr<Framing> frame_masked_language_model(const FramingContext& c) {
  if (c.kind != data::TaskKind::LanguageModel ||
      c.model->architecture() != Architecture::Classifier || !c.model->config().mlm_head)
    return nullptr;
  return std::make_unique<MaskedLanguageModel>(c);
}

}  // namespace attnlab
