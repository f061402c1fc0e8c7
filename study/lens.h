// The logit lens (attnlab lens): what a decoder already predicts after each
// of its blocks. The hidden state a block hands on goes through the stack's
// final norm and the LM head, as the last block's does, and the resulting
// distribution is read at every position: its most likely tokens, and the
// probability of the token the whole model finally predicts there.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "framing/framing.h"
#include "report/svg.h"
#include "report/table.h"

namespace attnlab::study {

struct LensCell {
  std::vector<std::pair<std::string, double>> top;  // most likely tokens, best first
  double eventual = 0;        // probability of the model's final prediction here
  int64_t eventual_rank = 0;  // its rank in this distribution (1: the most likely)
};

struct LogitLens {
  std::string input, output;          // the text and the model's prediction
  std::vector<std::string> tokens;    // what each decoder position reads
  std::vector<std::string> eventual;  // what the model predicts after each position
  // "embeddings" (before the first block), "decoder/layers/0", ...
  std::vector<std::string> blocks;
  std::vector<std::vector<LensCell>> cells;  // [block][position]
  // A prefix LM: positions [0, sees_ahead) read the token they predict
  // (the prefix is read both ways), so their readings are no predictions.
  int64_t sees_ahead = 0;
};

// Runs `text` as trace does (the model's prediction, then the input and that
// prediction teacher-forced) and reads every decoder block through the lens,
// keeping the `top_k` most likely tokens of each cell. Throws
// std::invalid_argument for a model without a decoder (lens_logits).
LogitLens logit_lens(const Framing& framing, const data::Vocab& vocab, const std::string& text,
                     int64_t top_k);

// The positions a picture or table shows: at most `cap`, the last ones (a
// decoder's prediction comes at the end of its row).
struct ShownPositions {
  size_t first = 0, count = 0;
  std::string note;  // says what was left out, "" when nothing was
};
ShownPositions shown_positions(size_t positions, size_t cap);

// "embed" for the embedded tokens, "block 2" for decoder/layers/2.
std::string lens_row_name(const std::string& state);
// What a lens's picture or table leaves out or cannot show, "" when nothing.
std::string lens_note(const LogitLens& lens, const ShownPositions& shown);

// One row per position: what it reads, what the model predicts after it,
// and per block the most likely token with the final prediction's
// probability.
report::Table lens_table(const LogitLens& lens, const ShownPositions& shown);
// Blocks x positions: each cell the block's most likely token, coloured by
// the probability of the model's final prediction there.
report::Svg lens_picture(const LogitLens& lens, const ShownPositions& shown,
                         const std::string& title);

}  // namespace attnlab::study
