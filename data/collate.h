// Collate functions: turn the encoded examples of one batch into padded id arrays for each
// model family. Padding uses kPadId (0) in id arrays and kIgnoreIndex (-100, as in PyTorch's
// cross-entropy) in target arrays, so padded positions never contribute to the loss.
//
// Layouts for one example with source tokens s1..sn and target tokens t1..tm:
//
//   (a) encoder classification (BERT-style), collate_classification
//         input   [CLS] s1 .. sn                      label = class index
//       The classifier reads the output at position 0.
//
//   (b) decoder-only prefix LM, collate_prefix_lm. The sequence is
//         [BOS] s1 .. sn [SEP] t1 .. tm [EOS]
//       and the model predicts each next token, but only target tokens are scored:
//         position  0     1  ..  n    n+1   n+2  ..  n+m
//         input     BOS   s1 ..  sn   SEP   t1   ..  tm
//         target    -100  -100.. -100 t1    t2   ..  EOS
//       prefix_length = n + 2 (BOS, source and SEP), for models whose prefix attends
//       bidirectionally. At inference the model is given BOS s1..sn SEP and generates.
//
//   (c) encoder-decoder (T5-style), collate_seq2seq
//         encoder input   s1 .. sn [EOS]
//         decoder input   [BOS] t1 .. tm
//         decoder target  t1 .. tm [EOS]
//
// Length limits (LengthLimit::max_len, 0 = unlimited) apply to each padded array's row length.
// A longer example is an error (std::length_error naming the example index and its length)
// unless the caller asks for Overflow::TruncateSource, which drops tokens from the end of the
// source. Targets are never truncated: a shortened target would silently teach the model a wrong
// answer, so a target that does not fit is an error in both modes.
#pragma once

#include "data/encoding.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace attnlab::data {

inline constexpr int32_t kIgnoreIndex = -100;

struct Batch {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<int32_t> ids;           // rows * cols, row-major; kPadId in padding
  std::vector<uint8_t> padding_mask;  // rows * cols; 1 = padding, 0 = real token

  int32_t id(int64_t row, int64_t col) const { return ids[row * cols + col]; }
  bool is_padding(int64_t row, int64_t col) const { return padding_mask[row * cols + col] != 0; }
};

enum class Overflow { Error, TruncateSource };

struct LengthLimit {
  std::size_t max_len = 0;  // 0: no limit
  Overflow overflow = Overflow::Error;
};

struct ClassificationBatch {
  Batch input;
  std::vector<int32_t> labels;  // one per row
};

struct PrefixLmBatch {
  Batch input;
  std::vector<int32_t> targets;         // rows * cols; kIgnoreIndex where nothing is predicted
  std::vector<int32_t> prefix_lengths;  // one per row: BOS + source + SEP
};

struct Seq2SeqBatch {
  Batch encoder;
  Batch decoder;
  std::vector<int32_t> targets;  // decoder.rows * decoder.cols; kIgnoreIndex in padding
};

// `indices` select the batch's rows from `examples` (as produced by make_batches). All throw
// std::out_of_range for an index outside `examples`, std::invalid_argument for an empty batch
// or (classification) an example without a label, std::length_error as described above.
ClassificationBatch collate_classification(std::span<const EncodedExample> examples,
                                           std::span<const std::size_t> indices,
                                           const LengthLimit& limit = {});
PrefixLmBatch collate_prefix_lm(std::span<const EncodedExample> examples,
                                std::span<const std::size_t> indices,
                                const LengthLimit& limit = {});
Seq2SeqBatch collate_seq2seq(std::span<const EncodedExample> examples,
                             std::span<const std::size_t> indices, const LengthLimit& limit = {});

// LanguageModel: one token stream (every example's tokens in order); a row is a
// contiguous block of it, the model predicts each next token (not collated here).
enum class Layout { EncoderClassifier, PrefixLm, EncoderDecoder, LanguageModel };

// Per-example lengths to bucket by (make_batches): the row length of the layout, after
// truncation if `limit` asks for it. Encoder-decoder examples count encoder plus decoder length,
// since both are padded.
std::vector<std::size_t> sequence_lengths(std::span<const EncodedExample> examples, Layout layout,
                                          const LengthLimit& limit = {});

}  // namespace attnlab::data
