// What the two sequence-to-sequence framings share: a target written token by
// token after a source. Training is teacher-forced, the held-out metrics are
// token accuracy and exact match, and outputs are decoded with the model's
// KV cache (or, as the tested reference, by recomputing every step). A
// subclass says how a (source, target) pair becomes the model's rows:
// decoder-only (BOS s SEP t EOS in one causal row) or encoder-decoder
// (s EOS read by the encoder, BOS t by the decoder). Text-to-text
// classification reuses them with a label's tokens as the target.
#pragma once

#include "framing/framing.h"

namespace attnlab {

class Seq2SeqFraming : public Framing {
 public:
  using Framing::Framing;

  // Teacher-forced logits of the rows of examples[indices], with their
  // targets: B rows of `cols` target positions, kIgnoreIndex where nothing
  // is predicted.
  struct TeacherForced {
    Tensor logits;  // (B,cols,V)
    std::vector<int32_t> targets;
    int64_t cols = 0;
  };
  TeacherForced teacher_forced(std::span<const data::EncodedExample> examples,
                               std::span<const size_t> indices) const;

  // Output tokens for the sources of examples[indices] with the framing's
  // search (greedy unless set_search chose beams or sampling), without EOS,
  // and if asked each choice's log-probability (see Prediction).
  std::vector<std::vector<int32_t>> decode_outputs(
      std::span<const data::EncodedExample> examples, std::span<const size_t> indices,
      size_t max_new, std::vector<std::vector<double>>* token_log_probs) const;

  // What a prediction input of `source` tokens needs when `forced_target`
  // tokens and EOS are teacher-forced after it (0: nothing is).
  virtual InputNeed input_need_with(size_t source, size_t forced_target) const = 0;
  InputNeed input_need(size_t source) const override { return input_need_with(source, 0); }

  // Runs the rows of source `src` followed by the output `out` with
  // attention capture, adding their axes, maps and states to `trace`;
  // returns the decoder's logits (1,T,V). Rows longer than max_len are cut
  // there (a trace shows what fits).
  virtual Tensor trace_rows(const std::vector<int32_t>& src, const std::vector<int32_t>& out,
                            Trace& trace) const = 0;

  // Translation: the framing of a translation task.
  std::vector<data::EncodedExample> encode(
      const std::vector<data::Example>& examples) const override;
  int64_t target_count(std::span<const data::EncodedExample> examples,
                       std::span<const size_t> indices) const override;
  Tensor loss(std::span<const data::EncodedExample> examples, std::span<const size_t> indices,
              const LossOptions& options, std::span<const size_t> whole_batch) const override;
  EvalTally tally(std::span<const data::EncodedExample> encoded, size_t batch_size, size_t first,
                  size_t last) const override;
  EvalMetrics metrics(const EvalTally& tally, size_t rows) const override;
  Trace trace(const std::string& text) const override;
  Trace trace_reference(const data::Example& example) const override;
  ForcedRun run_forced(const std::string& text, const std::vector<int32_t>& forced) const override;

 protected:
  std::vector<Prediction> predict_batch(std::span<const data::EncodedExample> encoded,
                                        std::span<const size_t> rows,
                                        size_t max_new) const override;
  // The logits (B,T,V) of a collated batch, at the decoder's positions.
  virtual Tensor logits(const FramedBatch& batch) const = 0;
  // The decoder's starting rows for the sources of examples[indices], and for
  // an encoder-decoder the encoded sources every step attends to.
  struct DecoderStart {
    std::vector<std::vector<int32_t>> prompts;
    Tensor memory;     // (B,Ts,C), encoder-decoder only
    Mask memory_mask;  // (B,Ts)
    // A prefix LM: each prompt's length, the prefix it reads both ways.
    std::vector<int64_t> prefix;
  };
  virtual DecoderStart start_decoding(std::span<const data::EncodedExample> examples,
                                      std::span<const size_t> indices) const = 0;

 private:
  std::vector<std::vector<int32_t>> greedy_decode_recompute(
      std::span<const data::EncodedExample> examples, std::span<const size_t> indices,
      size_t max_new, std::vector<std::vector<double>>* token_log_probs) const;
};

}  // namespace attnlab
