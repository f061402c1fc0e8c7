// Causal language model (GPT on text): a row is a block of block_size tokens
// cut from the stream at an offset, and every position predicts the next
// token. With prefix_lm, each row is split at a random point: the part
// before it is read both ways and only the rest is predicted. A language model continues text
// (attnlab generate) rather than predicting an output for an input.
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "data/rng.h"
#include "decode/search.h"
#include "framing/model_io.h"
#include "framing/text_stream.h"

namespace attnlab {
namespace {

using namespace framing;

class CausalLanguageModel final : public TextStreamFraming {
 public:
  using TextStreamFraming::TextStreamFraming;
  std::string_view name() const override {
    return prefix_lm() ? "prefix language model" : "causal language model";
  }

  // Every position predicts the next token; a prefix LM's prefix positions
  // but its last predict nothing (held-out rows' prefixes).
  int64_t target_count(std::span<const data::EncodedExample>,
                       std::span<const size_t> offsets) const override {
    return predicted(offsets, kHeldOutSeed);
  }

  Tensor loss(std::span<const data::EncodedExample> stream, std::span<const size_t> offsets,
              const LossOptions& options, std::span<const size_t> whole_batch) const override {
    const FramedBatch b = blocks(stream, offsets, options.mask_seed);
    Tensor mean = cross_entropy_of(b, options.label_smoothing);
    if (whole_batch.empty()) return mean;
    return mul_scalar(mean, double(predicted(offsets, options.mask_seed)) /
                                double(predicted(whole_batch, options.mask_seed)));
  }

  EvalTally tally(std::span<const data::EncodedExample> encoded, size_t batch_size, size_t first,
                  size_t last) const override {
    EvalScope scope(mutable_model());
    EvalTally t;
    for (const auto& rows : sequential_batches(first, last, batch_size)) {
      const std::vector<size_t> offsets = eval_offsets(rows);
      const double targets = double(predicted(offsets, kHeldOutSeed));
      t.loss_sum += cross_entropy_of(collate(encoded, offsets), 0.0).item() * targets;
      t.loss_count += targets;
      // The targets are the tokens after each block's first.
      std::vector<size_t> after(offsets.begin(), offsets.end());
      for (size_t& o : after) ++o;
      t.predicted_chars += targets * chars_per_token(encoded, after, size_t(block_size()));
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
    if (prefix_lm()) trace.prefix = int64_t(ids.size());
    const Tensor logits =  // (1,T,V); a prefix LM reads the whole input as its prefix
        prefix_lm() ? model().decode_prefix(one_row(ids), nullptr, {int64_t(ids.size())}, &blocks)
                    : model().decode(one_row(ids), nullptr, nullptr, nullptr, &blocks);
    const int64_t v = logits.size(-1);
    trace.output = vocab().token_of(argmax_row(logits, (int64_t(ids.size()) - 1) * v, v));
    trace.axes.push_back({"sequence", token_names(vocab(), ids)});
    model().name_attention(Forward::Decode, blocks, "sequence", "", trace);
    return trace;
  }

  // The text (which must fit max_len with `forced`) and the tokens after it.
  ForcedRun run_forced(const std::string& text, const std::vector<int32_t>& forced) const override {
    EvalScope scope(mutable_model());
    std::vector<int32_t> ids = vocab().encode(text, "input");
    if (ids.empty()) throw std::invalid_argument(fmt::format("'{}' has no token", text));
    ids.insert(ids.end(), forced.begin(), forced.end());
    if (ids.size() > max_len())
      throw std::invalid_argument(
          fmt::format("'{}' with {} output tokens is {} tokens, more than the model's max_len {}",
                      text, forced.size(), ids.size(), max_len()));
    ForcedRun run;
    run.trace.input = text;
    run.trace.output = vocab().decode(forced);
    std::vector<BlockAttention> blocks;
    // A prefix LM reads the text both ways, the forced tokens causally, as
    // it generates them.
    const int64_t text_tokens = int64_t(ids.size() - forced.size());
    if (prefix_lm()) run.trace.prefix = text_tokens;
    const Tensor logits =  // (1,T,V)
        prefix_lm() ? model().decode_prefix(one_row(ids), nullptr, {text_tokens}, &blocks)
                    : model().decode(one_row(ids), nullptr, nullptr, nullptr, &blocks);
    const int64_t v = logits.size(-1);
    run.next = log_softmax_row(logits, (int64_t(ids.size()) - 1) * v, v);
    run.trace.axes.push_back({"sequence", token_names(vocab(), ids)});
    model().name_attention(Forward::Decode, blocks, "sequence", "", run.trace);
    return run;
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
  // The blocks at `offsets` as held-out rows are framed.
  FramedBatch frame_rows(std::span<const data::EncodedExample> stream,
                         std::span<const size_t> offsets, const data::LengthLimit&) const override {
    return blocks(stream, offsets, kHeldOutSeed);
  }

 private:
  bool prefix_lm() const { return model().config().prefix_lm; }

  // A prefix LM's prefix length for the block at `offset`: uniform in
  // [1, block_size - 1], drawn from the row's seed (T5's prefix LM splits a
  // text at a random point too).
  int64_t prefix_of(size_t offset, uint64_t seed) const {
    if (!prefix_lm()) return 0;
    data::Rng rng(row_seed(seed, offset));
    return 1 + int64_t(rng.below(uint64_t(block_size() - 1)));
  }

  // Positions that predict a token: every one, or from the prefix's last on.
  int64_t predicted(std::span<const size_t> offsets, uint64_t seed) const {
    int64_t n = 0;
    for (const size_t o : offsets) n += block_size() - std::max<int64_t>(prefix_of(o, seed) - 1, 0);
    return n;
  }

  // The blocks of block_size tokens at `offsets` and the tokens after each;
  // a prefix LM's prefix (from `seed`) predicts nothing but its last
  // position: its tokens see each other, so the next one is in sight.
  FramedBatch blocks(std::span<const data::EncodedExample> stream, std::span<const size_t> offsets,
                     uint64_t seed) const {
    const size_t t = size_t(block_size());
    std::vector<std::vector<int32_t>> rows, targets;
    FramedBatch batch;
    for (size_t o : offsets) {
      std::vector<int32_t> tokens = tokens_at(stream, o, t + 1);
      std::vector<int32_t>& target = targets.emplace_back(tokens.begin() + 1, tokens.end());
      if (prefix_lm()) {
        const int64_t prefix = prefix_of(o, seed);
        std::fill(target.begin(), target.begin() + (prefix - 1), data::kIgnoreIndex);
        batch.prefix_lengths.push_back(int32_t(prefix));
      }
      tokens.pop_back();
      rows.push_back(std::move(tokens));
    }
    batch.input = data::pad_rows(rows);
    batch.targets = data::pad_targets(targets, batch.input.cols);
    return batch;
  }

  // The mean next-token cross-entropy of framed blocks.
  Tensor cross_entropy_of(const FramedBatch& b, double label_smoothing) const {
    // Blocks are never padded: the model reads them without a mask.
    const Tensor logits =  // (B,T,V)
        prefix_lm() ? model().decode_prefix(
                          ids_tensor(b.input), nullptr,
                          std::vector<int64_t>(b.prefix_lengths.begin(), b.prefix_lengths.end()))
                    : model().decode(ids_tensor(b.input), nullptr);
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
