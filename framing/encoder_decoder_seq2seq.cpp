// Encoder-decoder sequence-to-sequence (T5): the encoder reads the source,
// the decoder writes the target with teacher forcing, cross-attending to the
// encoder's output:
//
//   encoder input   s1 .. sn EOS
//   decoder input   BOS t1 .. tm
//   decoder target  t1 .. tm EOS
//
// Decoding encodes the source once and starts the decoder from BOS.
#include <fmt/format.h>

#include <algorithm>

#include "framing/model_io.h"
#include "framing/seq2seq.h"

namespace attnlab {
namespace {

using namespace framing;

constexpr size_t kEncoderSpecials = 1;  // EOS
constexpr size_t kDecoderSpecials = 1;  // BOS in the input, EOS in the target

class EncoderDecoderSeq2Seq final : public Seq2SeqFraming {
 public:
  using Seq2SeqFraming::Seq2SeqFraming;
  std::string_view name() const override { return "encoder-decoder seq2seq"; }

  FramedBatch frame_rows(std::span<const data::EncodedExample> examples,
                         std::span<const size_t> indices,
                         const data::LengthLimit& limit) const override {
    data::require_rows(indices);
    std::vector<std::vector<int32_t>> encoder_rows, decoder_rows, target_rows;
    for (const size_t index : indices) {
      const data::EncodedExample& example = data::example_at(examples, index);
      const size_t kept = data::kept_source_tokens(index, example.source.size(), 0,
                                                   kEncoderSpecials, limit, "encoder input");
      // The decoder row holds no source, so nothing can be cut there and any overflow throws.
      data::kept_source_tokens(index, 0, example.target.size(), kDecoderSpecials, limit,
                               "decoder input");
      std::vector<int32_t>& encoder =
          encoder_rows.emplace_back(example.source.begin(), example.source.begin() + int64_t(kept));
      encoder.push_back(data::kEosId);
      std::vector<int32_t>& decoder = decoder_rows.emplace_back(1, data::kBosId);
      decoder.insert(decoder.end(), example.target.begin(), example.target.end());
      std::vector<int32_t>& target = target_rows.emplace_back(example.target);
      target.push_back(data::kEosId);
    }
    FramedBatch batch;
    batch.encoder = data::pad_rows(encoder_rows);
    batch.input = data::pad_rows(decoder_rows);
    batch.targets = data::pad_targets(target_rows, batch.input.cols);
    return batch;
  }

  std::vector<size_t> row_lengths(std::span<const data::EncodedExample> examples,
                                  const data::LengthLimit& limit) const override {
    std::vector<size_t> lengths;  // both rows are padded
    for (const auto& e : examples)
      lengths.push_back(data::row_length(e.source.size(), kEncoderSpecials, limit) +
                        e.target.size() + kDecoderSpecials);
    return lengths;
  }

  size_t input_positions(const data::EncodedExample& e) const override {
    return e.source.size() + kEncoderSpecials;
  }

  size_t positions_needed(const data::Example& e,
                          const std::function<size_t(std::string_view)>& count) const override {
    return std::max(count(e.source) + kEncoderSpecials, count(e.target) + kDecoderSpecials);
  }

  // A teacher-forced target is the decoder's: the encoder row holds the source alone.
  InputNeed input_need_with(size_t source, size_t) const override {
    return {source + kEncoderSpecials, "EOS"};
  }

  Tensor trace_rows(const std::vector<int32_t>& src, const std::vector<int32_t>& out,
                    Trace& trace) const override {
    std::vector<int32_t> enc = src;
    enc.push_back(data::kEosId);
    std::vector<int32_t> dec{data::kBosId};
    dec.insert(dec.end(), out.begin(), out.end());
    trace.axes.push_back({"input", token_names(vocab(), enc)});
    trace.axes.push_back({"decoder", token_names(vocab(), dec)});
    std::vector<BlockAttention> encoder, decoder;
    const Tensor memory = model().encode(one_row(enc), nullptr, &encoder);  // (1,Ts,C)
    const Tensor logits = model().decode(one_row(dec), nullptr, &memory, nullptr, &decoder);
    model().name_attention(Forward::Encode, encoder, "input", "", trace);
    model().name_attention(Forward::Decode, decoder, "decoder", "input", trace);
    return logits;  // (1,Tt,V)
  }

 protected:
  Tensor logits(const FramedBatch& b) const override {
    Mask src_pad = padding_of(b.encoder), tgt_pad = padding_of(b.input);
    const Tensor memory = model().encode(ids_tensor(b.encoder), &src_pad);    // (B,Ts,C)
    return model().decode(ids_tensor(b.input), &tgt_pad, &memory, &src_pad);  // (B,Tt,V)
  }

  DecoderStart start_decoding(std::span<const data::EncodedExample> examples,
                              std::span<const size_t> indices) const override {
    // The source is encoded once, for every step.
    std::vector<std::vector<int32_t>> sources;
    for (size_t i : indices) {
      std::vector<int32_t>& row = sources.emplace_back(examples[i].source);
      row.push_back(data::kEosId);
      // Relative positions take any length, but attention memory grows with its square.
      if (row.size() > max_len())
        throw std::invalid_argument(
            fmt::format("input {} has {} tokens with EOS, more than the model's max_len {}", i + 1,
                        row.size(), max_len()));
    }
    DecoderStart start;
    const data::Batch src = data::pad_rows(sources);
    start.memory_mask = padding_of(src);
    start.memory = model().encode(ids_tensor(src), &start.memory_mask);  // (B,Ts,C)
    start.prompts.assign(indices.size(), std::vector<int32_t>{data::kBosId});
    return start;
  }
};

}  // namespace

std::unique_ptr<Framing> frame_encoder_decoder_seq2seq(const FramingContext& c) {
  return frame_when<EncoderDecoderSeq2Seq>(c, data::TaskKind::Translation,
                                           Architecture::EncoderDecoder);
}

}  // namespace attnlab
