// Causal language model (GPT on text): a row is a block of block_size tokens
// cut from the stream at an offset, and every position predicts the next
// token. A language model continues text (attnlab generate) rather than
// predicting an output for an input.
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "decode/search.h"
#include "framing/model_io.h"
#include "framing/text_stream.h"

namespace attnlab {
namespace {

using namespace framing;

class CausalLanguageModel final : public TextStreamFraming {
 public:
  using TextStreamFraming::TextStreamFraming;
  std::string_view name() const override { return "causal language model"; }

  int64_t target_count(std::span<const data::EncodedExample>,
                       std::span<const size_t> offsets) const override {
    return int64_t(offsets.size()) * block_size();  // every position predicts the next token
  }

  Tensor loss(std::span<const data::EncodedExample> stream, std::span<const size_t> offsets,
              const LossOptions& options, std::span<const size_t> whole_batch) const override {
    Tensor mean = cross_entropy_of_blocks(stream, offsets, options.label_smoothing);
    if (whole_batch.empty()) return mean;
    return mul_scalar(mean, double(offsets.size()) / double(whole_batch.size()));
  }

  EvalTally tally(std::span<const data::EncodedExample> encoded, size_t batch_size, size_t first,
                  size_t last) const override {
    EvalScope scope(mutable_model());
    EvalTally t;
    for (const auto& rows : sequential_batches(first, last, batch_size)) {
      const std::vector<size_t> offsets = eval_offsets(rows);
      t.loss_sum += cross_entropy_of_blocks(encoded, offsets, 0.0).item() * double(rows.size());
      t.loss_count += double(rows.size());
    }
    return t;
  }

  // The text itself (its last max_len tokens), and the token that would come next.
  Trace trace(const std::string& text) const override {
    EvalScope scope(mutable_model());
    Trace trace;
    trace.input = text;
    std::vector<int32_t> ids = vocab().encode(text, "input");
    if (ids.empty()) throw std::invalid_argument("trace: the input has no token");
    if (ids.size() > max_len()) ids.erase(ids.begin(), ids.end() - int64_t(max_len()));
    std::vector<BlockAttention> blocks;
    const Tensor logits =
        model().decode(one_row(ids), nullptr, nullptr, nullptr, &blocks);  // (1,T,V)
    const int64_t v = logits.size(-1);
    trace.output = vocab().token_of(argmax_row(logits, (int64_t(ids.size()) - 1) * v, v));
    trace.axes.push_back({"sequence", token_names(vocab(), ids)});
    model().name_attention(Forward::Decode, blocks, "sequence", "", trace);
    return trace;
  }

  // The held-out text's first tokens and a sampled continuation of them.
  std::string sample(std::span<const data::EncodedExample> held_out, uint64_t seed) const override {
    const std::vector<int32_t>& text = held_out[0].source;
    const size_t prompt = std::min<size_t>({text.size(), 16, size_t(block_size() / 2)});
    GenerateOptions o;
    o.max_new = std::min<int64_t>(120, block_size() - int64_t(prompt));
    if (o.max_new < 1) return "";
    o.temperature = 0.8;
    o.seed = seed;
    o.eos_id = -1;  // a text has no end token
    EvalScope scope(mutable_model());
    const std::vector<int32_t> start(text.begin(), text.begin() + int64_t(prompt));
    const Generated g = generate(model(), {start}, nullptr, nullptr, o)[0];
    std::vector<int32_t> all = start;
    all.insert(all.end(), g.tokens.begin(), g.tokens.end());
    return vocab().decode(all);  // word tokens get their spaces back
  }

 protected:
  // The blocks of block_size tokens at `offsets` and the tokens after each.
  FramedBatch frame_rows(std::span<const data::EncodedExample> stream,
                         std::span<const size_t> offsets, const data::LengthLimit&) const override {
    const size_t t = size_t(block_size());
    std::vector<std::vector<int32_t>> rows, targets;
    for (size_t o : offsets) {
      std::vector<int32_t> tokens = tokens_at(stream, o, t + 1);
      targets.emplace_back(tokens.begin() + 1, tokens.end());
      tokens.pop_back();
      rows.push_back(std::move(tokens));
    }
    FramedBatch batch;
    batch.input = data::pad_rows(rows);
    batch.targets = data::pad_targets(targets, batch.input.cols);
    return batch;
  }

 private:
  // The mean next-token cross-entropy of the blocks at `offsets`.
  Tensor cross_entropy_of_blocks(std::span<const data::EncodedExample> stream,
                                 std::span<const size_t> offsets, double label_smoothing) const {
    const FramedBatch b = collate(stream, offsets);
    // Blocks are never padded: the model reads them without a mask.
    const Tensor logits = model().decode(ids_tensor(b.input), nullptr);  // (B,T,V)
    return cross_entropy(logits, IntTensor{{b.input.rows, b.input.cols}, b.targets},
                         data::kIgnoreIndex, label_smoothing);
  }
};

}  // namespace

std::unique_ptr<Framing> frame_causal_language_model(const FramingContext& c) {
  return frame_when<CausalLanguageModel>(c, data::TaskKind::LanguageModel,
                                         Architecture::DecoderOnly);
}

}  // namespace attnlab
