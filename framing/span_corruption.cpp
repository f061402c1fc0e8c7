// Span corruption (T5 on text): a row is block_size - 1 tokens of the
// stream; about 15% of them, in spans of mean length 3, are each replaced by
// one sentinel in the encoder's input, and the decoder writes every sentinel
// followed by the span it replaced (T5's recipe, data/text_objectives.h):
//
//   text     a b c d e f g h
//   encoder  a b <extra_id_0> e f g <extra_id_1> EOS
//   decoder  BOS <extra_id_0> c d <extra_id_1> h
//   target   <extra_id_0> c d <extra_id_1> h EOS
//
// The loss is the mean over the target's tokens, sentinels and EOS included;
// bits per character count them against the characters of the spans.
#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "data/text_objectives.h"
#include "decode/search.h"
#include "framing/model_io.h"
#include "framing/text_stream.h"

namespace attnlab {
namespace {

using namespace framing;

class SpanCorruption final : public TextStreamFraming {
 public:
  explicit SpanCorruption(FramingContext c) : TextStreamFraming(std::move(c)) {
    const data::SpanCounts counts = data::span_counts(row_tokens());
    for (int64_t i = 0; i < counts.spans; ++i)
      sentinels_.push_back(vocab().reserved_id(data::sentinel_token(int(i))));
  }
  std::string_view name() const override { return "span corruption"; }

  // Every row has the same counts: spans + noise tokens, and EOS.
  int64_t target_count(std::span<const data::EncodedExample>,
                       std::span<const size_t> offsets) const override {
    const data::SpanCounts c = data::span_counts(row_tokens());
    return int64_t(offsets.size()) * (c.spans + c.noise + 1);
  }

  Tensor loss(std::span<const data::EncodedExample> stream, std::span<const size_t> offsets,
              const LossOptions& options, std::span<const size_t> whole_batch) const override {
    return share_of_batch(span_loss(corrupted_rows(stream, offsets, options.mask_seed)), offsets,
                          whole_batch);
  }

  EvalTally tally(std::span<const data::EncodedExample> encoded, size_t batch_size, size_t first,
                  size_t last) const override {
    EvalScope scope(mutable_model());
    EvalTally t;
    const data::SpanCounts c = data::span_counts(row_tokens());
    for (const auto& rows : sequential_batches(first, last, batch_size)) {
      const double targets = double(rows.size() * size_t(c.spans + c.noise + 1));
      const std::vector<size_t> offsets = eval_offsets(rows);
      t.loss_sum += span_loss(collate(encoded, offsets)).item() * targets;
      t.loss_count += targets;
      t.predicted_chars += double(rows.size() * size_t(c.noise)) *
                           chars_per_token(encoded, offsets, size_t(row_tokens()));
    }
    return t;
  }

  // The corrupted held-out text and the spans the model writes for it.
  Trace trace(const std::string& text) const override {
    EvalScope scope(mutable_model());
    Trace trace;
    trace.input = text;
    std::vector<int32_t> ids = vocab().encode(text, "input");
    if (ids.size() < 2) throw std::invalid_argument("trace: the input needs at least 2 tokens");
    ids.resize(std::min(ids.size(), size_t(row_tokens())));
    const data::CorruptedRow row = corrupt(ids, row_seed(kHeldOutSeed, 0));
    std::vector<int32_t> encoder = row.input;
    encoder.push_back(data::kEosId);
    const std::vector<int32_t> written = write_spans(encoder, int64_t(max_len()));
    trace.output = vocab().decode(written);
    std::vector<int32_t> decoder{data::kBosId};
    decoder.insert(decoder.end(), written.begin(), written.end());
    trace.axes.push_back({"input", token_names(vocab(), encoder)});
    trace.axes.push_back({"decoder", token_names(vocab(), decoder)});
    std::vector<BlockAttention> encoder_blocks, decoder_blocks;
    const Tensor memory = model().encode(one_row(encoder), nullptr, &encoder_blocks);  // (1,Ts,C)
    model().decode(one_row(decoder), nullptr, &memory, nullptr, &decoder_blocks);
    model().name_attention(Forward::Encode, encoder_blocks, "input", "", trace);
    model().name_attention(Forward::Decode, decoder_blocks, "decoder", "input", trace);
    return trace;
  }

  // The first held-out row's input with its sentinels, and what the model
  // writes for them.
  std::string sample(std::span<const data::EncodedExample> held_out, uint64_t seed) const override {
    EvalScope scope(mutable_model());
    const size_t length = std::min<size_t>(60, size_t(row_tokens()));
    const data::CorruptedRow row = corrupt(tokens_at(held_out, 0, length), row_seed(seed, 0));
    std::vector<int32_t> encoder = row.input;
    encoder.push_back(data::kEosId);
    // Room for the spans and a few more: an untrained model may not stop.
    return fmt::format("{}  ->  {}", vocab().decode(row.input),
                       vocab().decode(write_spans(encoder, int64_t(row.target.size()) + 8)));
  }

 protected:
  // The rows at `offsets`, corrupted as held-out rows are.
  FramedBatch frame_rows(std::span<const data::EncodedExample> stream,
                         std::span<const size_t> offsets, const data::LengthLimit&) const override {
    return corrupted_rows(stream, offsets, kHeldOutSeed);
  }

 private:
  // Text tokens a row corrupts: its encoder input (with a sentinel per span
  // and EOS) and its target then fit max_len.
  int64_t row_tokens() const { return block_size() - 1; }

  data::CorruptedRow corrupt(const std::vector<int32_t>& tokens, uint64_t seed) const {
    return data::corrupt_spans(tokens, seed, sentinels_);
  }

  FramedBatch corrupted_rows(std::span<const data::EncodedExample> stream,
                             std::span<const size_t> offsets, uint64_t seed) const {
    std::vector<std::vector<int32_t>> encoder_rows, decoder_rows, target_rows;
    for (const size_t o : offsets) {
      data::CorruptedRow row =
          corrupt(tokens_at(stream, o, size_t(row_tokens())), row_seed(seed, o));
      row.input.push_back(data::kEosId);
      encoder_rows.push_back(std::move(row.input));
      std::vector<int32_t>& decoder = decoder_rows.emplace_back(1, data::kBosId);
      decoder.insert(decoder.end(), row.target.begin(), row.target.end());
      row.target.push_back(data::kEosId);
      target_rows.push_back(std::move(row.target));
    }
    FramedBatch batch;  // rows of one length: nothing is padded
    batch.encoder = data::pad_rows(encoder_rows);
    batch.input = data::pad_rows(decoder_rows);
    batch.targets = data::pad_targets(target_rows, batch.input.cols);
    return batch;
  }

  // The mean cross-entropy of the targets of corrupted rows.
  Tensor span_loss(const FramedBatch& b) const {
    const Tensor memory = model().encode(ids_tensor(b.encoder), nullptr);  // (B,Ts,C)
    const Tensor logits = model().decode(ids_tensor(b.input), nullptr, &memory, nullptr);
    return cross_entropy(logits, IntTensor{{b.input.rows, b.input.cols}, b.targets},
                         data::kIgnoreIndex);  // logits (B,Tt,V)
  }

  // Greedy decoding of the spans for one encoder row, up to EOS or `limit` tokens.
  std::vector<int32_t> write_spans(const std::vector<int32_t>& encoder, int64_t limit) const {
    const Tensor memory = model().encode(one_row(encoder), nullptr);  // (1,Ts,C)
    GenerateOptions o;
    o.max_new = std::min(limit, int64_t(max_len()) - 1);
    o.never.assign(data::kNeverGenerated.begin(), data::kNeverGenerated.end());
    return generate(model(), {{data::kBosId}}, &memory, nullptr, o)[0].tokens;
  }

  std::vector<int32_t> sentinels_;
};

}  // namespace

std::unique_ptr<Framing> frame_span_corruption(const FramingContext& c) {
  return frame_when<SpanCorruption>(c, data::TaskKind::LanguageModel, Architecture::EncoderDecoder);
}

}  // namespace attnlab
