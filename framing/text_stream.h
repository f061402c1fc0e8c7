// What the framings of plain text share (--task-kind lm): the examples are
// one token stream in order, a training row is cut from it at an offset,
// and the held-out stream is read as non-overlapping blocks. Each family
// learns the text with its own objective:
//
//   framing                   model          a row of the stream, and its loss
//   causal language model     decoder-only   block_size tokens; each predicts the next
//   masked language model     classifier     [CLS] + block_size - 1 tokens, 15% of them
//                             with MLM head  hidden (BERT's recipe); each hidden one predicted
//   span corruption           enc-dec        block_size - 1 tokens; about 15% of them, in
//                                            spans of mean length 3, replaced by one sentinel
//                                            each; the decoder writes the spans (T5's recipe)
//
// Text framings make no predictions for inputs (predict refuses); a causal
// model continues text with generate. Each shows a sample of what it learned
// at every evaluation.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "framing/framing.h"

namespace attnlab {

class TextStreamFraming : public Framing {
 public:
  using Framing::Framing;

  // The examples, concatenated into one stream.
  std::vector<data::EncodedExample> encode(
      const std::vector<data::Example>& examples) const override;
  // One stream: it must hold a block and the token after it.
  void check_lengths(std::span<const data::Example> examples, const char* split,
                     std::span<const std::string> origins) const override;
  // Lines are not rows: check_lengths counts the stream as a whole.
  size_t positions_needed(const data::Example&,
                          const std::function<size_t(std::string_view)>&) const override {
    return 0;
  }
  InputNeed input_need(size_t) const override { return {}; }
  std::vector<size_t> row_lengths(std::span<const data::EncodedExample>,
                                  const data::LengthLimit&) const override {
    return {};  // every row is cut from the stream at full length
  }
  bool streams_blocks() const override { return true; }
  int64_t tokens_read(std::span<const data::EncodedExample>,
                      std::span<const size_t> offsets) const override {
    return int64_t(offsets.size()) * block_size();
  }
  size_t input_positions(const data::EncodedExample&) const override {
    return size_t(block_size());
  }
  // Non-overlapping blocks of the held-out stream.
  size_t eval_rows(std::span<const data::EncodedExample> encoded,
                   size_t max_examples) const override;
  EvalMetrics metrics(const EvalTally& tally, size_t rows) const override;

 protected:
  // The `length` stream tokens at offset `offset`; throws std::out_of_range
  // when they run past the stream.
  static std::vector<int32_t> tokens_at(std::span<const data::EncodedExample> stream, size_t offset,
                                        size_t length);
  // The characters of text per token in the `length` tokens at each offset:
  // a tally's predicted tokens times this are the characters they stand
  // for (exactly 1 for characters; subword pieces stand for more).
  double chars_per_token(std::span<const data::EncodedExample> stream,
                         std::span<const size_t> offsets, size_t length) const;
  // Held-out row r starts at r * block_size.
  std::vector<size_t> eval_offsets(std::span<const size_t> rows) const;
  // The seed of the masking or spans of the row at `offset`: from the step's
  // seed in training, from a fixed one for held-out rows, so that every
  // evaluation scores the same corruption and a resumed or data-parallel run
  // draws what one uninterrupted process would.
  static uint64_t row_seed(uint64_t seed, size_t offset);
  // The loss of rows that all predict as many tokens: their `mean`, or on a
  // data-parallel rank, the share of the whole batch's mean its `part` adds.
  static Tensor share_of_batch(const Tensor& mean, std::span<const size_t> part,
                               std::span<const size_t> whole_batch);
  static constexpr uint64_t kHeldOutSeed = 0x68656c646f7574;  // "heldout"

  void require_predictions() const override;
  std::vector<Prediction> predict_batch(std::span<const data::EncodedExample>,
                                        std::span<const size_t>, size_t) const override {
    require_predictions();
    return {};
  }
};

}  // namespace attnlab
