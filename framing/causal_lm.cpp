// Causal language model (GPT on text): the examples are one token stream in
// order; a row is a block of block_size tokens cut from it at an offset, and
// every position predicts the next token. The held-out stream is read as
// non-overlapping blocks. A language model continues text (attnlab generate)
// rather than predicting an output for an input.
#include <fmt/format.h>

#include <stdexcept>

#include "common/errors.h"
#include "framing/framing.h"
#include "framing/model_io.h"

namespace attnlab {
namespace {

using namespace framing;

class CausalLanguageModel final : public Framing {
 public:
  using Framing::Framing;
  std::string_view name() const override { return "causal language model"; }

  std::vector<data::EncodedExample> encode(
      const std::vector<data::Example>& examples) const override {
    data::EncodedExample stream;
    size_t tokens = 0;  // counted first: a growing stream would hold two copies at times
    for (const data::Example& e : examples) tokens += data::count_tokens(vocab().kind(), e.source);
    stream.source.reserve(tokens);
    for (size_t i = 0; i < examples.size(); ++i) {
      const auto ids = vocab().encode(examples[i].source, fmt::format("line {}", i + 1));
      stream.source.insert(stream.source.end(), ids.begin(), ids.end());
    }
    return {std::move(stream)};
  }

  // One stream: it must hold a block and the token after it.
  void check_lengths(std::span<const data::Example> examples, const char* split,
                     std::span<const std::string> origins) const override {
    size_t tokens = 0;
    for (size_t i = 0; i < examples.size(); ++i) {
      try {
        tokens += data::count_tokens(vocab().kind(), examples[i].source);
      } catch (const InputError& e) {
        throw InputError(fmt::format("{}: {}",
                                     i < origins.size()
                                         ? fmt::format("{}: the {} example", origins[i], split)
                                         : fmt::format("{} example {}", split, i + 1),
                                     e.what()));
      }
    }
    if (int64_t(tokens) < block_size() + 1)
      throw std::invalid_argument(fmt::format(
          "the {} text{} has {} tokens; a row needs block_size + 1 = {} (give more text or a "
          "smaller --block-size)",
          split, origins.empty() ? "" : fmt::format(" (from {})", origins.front()), tokens,
          block_size() + 1));
  }
  // Lines are not rows: check_lengths counts the stream as a whole.
  size_t positions_needed(const data::Example&,
                          const std::function<size_t(std::string_view)>&) const override {
    return 0;
  }
  InputNeed input_need(size_t) const override { return {}; }

  std::vector<size_t> row_lengths(std::span<const data::EncodedExample>,
                                  const data::LengthLimit&) const override {
    return {};  // every row is a block
  }
  bool streams_blocks() const override { return true; }
  int64_t target_count(std::span<const data::EncodedExample>,
                       std::span<const size_t> offsets) const override {
    return int64_t(offsets.size()) * block_size();  // every position predicts the next token
  }
  int64_t tokens_read(std::span<const data::EncodedExample>,
                      std::span<const size_t> offsets) const override {
    return int64_t(offsets.size()) * block_size();
  }
  size_t input_positions(const data::EncodedExample&) const override {
    return size_t(block_size());
  }

  Tensor loss(std::span<const data::EncodedExample> stream, std::span<const size_t> offsets,
              const LossOptions& options, std::span<const size_t> whole_batch) const override {
    Tensor mean = cross_entropy_of_blocks(stream, offsets, options.label_smoothing);
    if (whole_batch.empty()) return mean;
    return mul_scalar(mean, double(offsets.size()) / double(whole_batch.size()));
  }

  // Non-overlapping blocks of the held-out stream.
  size_t eval_rows(std::span<const data::EncodedExample> encoded,
                   size_t max_examples) const override {
    const size_t tokens = encoded.empty() ? 0 : encoded[0].source.size();
    const size_t blocks = tokens > 1 ? (tokens - 1) / size_t(block_size()) : 0;
    return max_examples ? std::min(max_examples, blocks) : blocks;
  }

  EvalTally tally(std::span<const data::EncodedExample> encoded, size_t batch_size, size_t first,
                  size_t last) const override {
    EvalScope scope(mutable_model());
    EvalTally t;
    for (const auto& idx : sequential_batches(first, last, batch_size)) {
      std::vector<size_t> offsets;
      for (size_t i : idx) offsets.push_back(i * size_t(block_size()));
      t.loss_sum += cross_entropy_of_blocks(encoded, offsets, 0.0).item() * double(idx.size());
      t.loss_count += double(idx.size());
    }
    return t;
  }

  EvalMetrics metrics(const EvalTally& t, size_t rows) const override {
    EvalMetrics m;
    m.examples = int64_t(rows);
    m.loss = t.loss_count ? t.loss_sum / t.loss_count : 0.0;
    m.language_model = true;
    m.word_tokens = vocab().kind() == data::TokenizerKind::Word;
    return m;
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

 protected:
  // The blocks of block_size tokens at `offsets` and the tokens after each.
  FramedBatch frame_rows(std::span<const data::EncodedExample> stream,
                         std::span<const size_t> offsets, const data::LengthLimit&) const override {
    const std::vector<int32_t>& tokens = stream[0].source;
    const size_t t = size_t(block_size());
    std::vector<std::vector<int32_t>> rows, targets;
    for (size_t o : offsets) {
      if (o + t + 1 > tokens.size())
        throw std::out_of_range(
            fmt::format("block at {} runs past the {} tokens", o, tokens.size()));
      rows.emplace_back(tokens.begin() + int64_t(o), tokens.begin() + int64_t(o + t));
      targets.emplace_back(tokens.begin() + int64_t(o + 1), tokens.begin() + int64_t(o + t + 1));
    }
    FramedBatch batch;
    batch.input = data::pad_rows(rows);
    batch.targets = data::pad_targets(targets, batch.input.cols);
    return batch;
  }

  void require_predictions() const override {
    throw std::invalid_argument(
        "a language model continues text: use attnlab generate --prompt TEXT, not predict");
  }
  std::vector<Prediction> predict_batch(std::span<const data::EncodedExample>,
                                        std::span<const size_t>, size_t) const override {
    require_predictions();
    return {};
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
