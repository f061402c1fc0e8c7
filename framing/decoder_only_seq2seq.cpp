// Decoder-only sequence-to-sequence (GPT): source and target in one causal
// row. The model predicts each next token, but only the target's are scored:
//
//   position  0     1  ..  n    n+1   n+2  ..  n+m
//   input     BOS   s1 ..  sn   SEP   t1   ..  tm
//   target    -     -  ..  -    t1    t2   ..  EOS
//
// The source is read by the same causal self-attention as the target (no
// cross-attention). With prefix_lm, BOS s SEP is a prefix read both ways
// (each source token also sees the ones after it) and the target stays
// causal. Decoding starts from BOS s SEP.
#include <fmt/format.h>

#include "framing/model_io.h"
#include "framing/seq2seq.h"

namespace attnlab {
namespace {

using namespace framing;

constexpr size_t kSpecials = 2;  // BOS and SEP in the input; EOS is only a target

class DecoderOnlySeq2Seq final : public Seq2SeqFraming {
 public:
  using Seq2SeqFraming::Seq2SeqFraming;
  std::string_view name() const override { return "decoder-only seq2seq"; }

  FramedBatch frame_rows(std::span<const data::EncodedExample> examples,
                         std::span<const size_t> indices,
                         const data::LengthLimit& limit) const override {
    data::require_rows(indices);
    std::vector<std::vector<int32_t>> inputs, targets;
    FramedBatch batch;
    for (const size_t index : indices) {
      const data::EncodedExample& example = data::example_at(examples, index);
      const size_t kept =
          data::kept_source_tokens(index, example.source.size(), example.target.size(), kSpecials,
                                   limit, "decoder-only row");
      std::vector<int32_t>& input = inputs.emplace_back();
      input.push_back(data::kBosId);
      input.insert(input.end(), example.source.begin(), example.source.begin() + int64_t(kept));
      input.push_back(data::kSepId);
      const size_t prefix_length = input.size();
      input.insert(input.end(), example.target.begin(), example.target.end());
      // Position p predicts input[p + 1]: only SEP and the target's positions predict anything.
      std::vector<int32_t>& target = targets.emplace_back(prefix_length - 1, data::kIgnoreIndex);
      target.insert(target.end(), example.target.begin(), example.target.end());
      target.push_back(data::kEosId);
      batch.prefix_lengths.push_back(int32_t(prefix_length));
    }
    batch.input = data::pad_rows(inputs);
    batch.targets = data::pad_targets(targets, batch.input.cols);
    return batch;
  }

  std::vector<size_t> row_lengths(std::span<const data::EncodedExample> examples,
                                  const data::LengthLimit& limit) const override {
    std::vector<size_t> lengths;
    for (const auto& e : examples)
      lengths.push_back(data::row_length(e.source.size(), e.target.size() + kSpecials, limit));
    return lengths;
  }

  size_t input_positions(const data::EncodedExample& e) const override {
    return e.source.size() + e.target.size() + kSpecials + 1;  // and EOS
  }

  size_t positions_needed(const data::Example& e,
                          const std::function<size_t(std::string_view)>& count) const override {
    return count(e.source) + count(e.target) + kSpecials + 1;  // BOS s SEP t EOS
  }

  InputNeed input_need_with(size_t source, size_t forced_target) const override {
    if (forced_target == 0) return {source + kSpecials, "BOS and SEP"};
    return {source + kSpecials + forced_target + 1, "BOS, SEP, the longest label and EOS"};
  }

  Tensor trace_rows(const std::vector<int32_t>& src, const std::vector<int32_t>& out,
                    Trace& trace) const override {
    std::vector<int32_t> ids = prompt(src);
    ids.insert(ids.end(), out.begin(), out.end());
    if (ids.size() > max_len()) ids.resize(max_len());
    trace.axes.push_back({"sequence", token_names(vocab(), ids)});
    std::vector<BlockAttention> blocks;
    if (prefix_lm()) trace.prefix = int64_t(prompt(src).size());
    const Tensor logits =  // (1,T,V)
        prefix_lm()
            ? model().decode_prefix(one_row(ids), nullptr, {int64_t(prompt(src).size())}, &blocks)
            : model().decode(one_row(ids), nullptr, nullptr, nullptr, &blocks);
    model().name_attention(Forward::Decode, blocks, "sequence", "", trace);
    return logits;
  }

 protected:
  Tensor logits(const FramedBatch& b) const override {
    Mask pad = padding_of(b.input);
    if (!prefix_lm()) return model().decode(ids_tensor(b.input), &pad);  // (B,T,V)
    // A prefix LM reads BOS s SEP both ways.
    const std::vector<int64_t> prefix(b.prefix_lengths.begin(), b.prefix_lengths.end());
    return model().decode_prefix(ids_tensor(b.input), &pad, prefix);  // (B,T,V)
  }

  DecoderStart start_decoding(std::span<const data::EncodedExample> examples,
                              std::span<const size_t> indices) const override {
    DecoderStart start;
    for (size_t i : indices) {
      std::vector<int32_t> row = prompt(examples[i].source);
      if (row.size() > max_len())
        throw std::invalid_argument(
            fmt::format("input {} has {} tokens with BOS and SEP, more than the model's max_len {}",
                        i + 1, row.size(), max_len()));
      if (prefix_lm()) start.prefix.push_back(int64_t(row.size()));
      start.prompts.push_back(std::move(row));
    }
    return start;
  }

 private:
  bool prefix_lm() const { return model().config().prefix_lm; }

  // The condition is part of the decoder's own row: BOS s SEP.
  static std::vector<int32_t> prompt(const std::vector<int32_t>& src) {
    std::vector<int32_t> row{data::kBosId};
    row.insert(row.end(), src.begin(), src.end());
    row.push_back(data::kSepId);
    return row;
  }
};

}  // namespace

std::unique_ptr<Framing> frame_decoder_only_seq2seq(const FramingContext& c) {
  return frame_when<DecoderOnlySeq2Seq>(c, data::TaskKind::Translation, Architecture::DecoderOnly);
}

}  // namespace attnlab
