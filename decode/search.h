// Generation for every model that decodes (GPT, T5) through the same
// interface: start_decoding, a prefill of the prompts, then decode_cached one
// token per step. Greedy choice, sampling (temperature, top-k, top-p, seeded)
// and beam search (GNMT length penalty) differ only in how they pick tokens.
//
// The prompt is what the decoder starts from: BOS src SEP for a decoder-only model,
// BOS for an encoder-decoder (whose source is `memory` = encode(source)).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "models/model.h"

namespace attnlab {

struct GenerateOptions {
  int64_t max_new = 64;         // tokens to generate at most per row (EOS included)
  int32_t eos_id = 2;           // ends a row; not part of the output tokens
  int64_t beam = 1;             // > 1: beam search with this many beams per row
  double length_penalty = 0.6;  // beam: score = log P / ((5 + len) / 6)^alpha (GNMT)
  double temperature = 0;       // 0: greedy; > 0: sample from softmax(logits / temperature)
  int64_t top_k = 0;            // sampling: only the k most likely tokens (0 = all)
  double top_p = 1.0;           // sampling: the smallest set of tokens with this much mass
  uint64_t seed = 0;            // sampling: row r's stream is a function of (seed, r) alone
  // Tokens never chosen, by any search (a vocabulary's special tokens that
  // are not text). The chosen tokens' log-probabilities stay the model's.
  std::vector<int32_t> never;
};

struct Generated {
  std::vector<int32_t> tokens;          // without EOS
  std::vector<double> token_log_probs;  // log P of each chosen token, EOS's last if chosen
  bool ended = false;                   // chose EOS (else stopped by max_new or max_len)
  double score = 0;                     // beam: the length-penalised score it won with
};

// Called with each row's newest token as it is chosen (for streaming).
using OnToken = std::function<void(size_t row, int32_t token)>;

// Generates for every prompt. memory (B,Ts,C) and memory_padding (B,Ts) for
// an encoder-decoder. A row also stops when it reaches the model's max_len.
// Throws std::invalid_argument for bad options (naming the option).
std::vector<Generated> generate(const Model& model,
                                const std::vector<std::vector<int32_t>>& prompts,
                                const Tensor* memory, const Mask* memory_padding,
                                const GenerateOptions& options, const OnToken& on_token = {});

// log-softmax, in double, of the v logits at `offset` in `logits` (read
// through the data pointer once: this runs for every row and beam at every
// step). The `never` tokens then read -inf, out of every choice; the others
// keep the model's log-probabilities.
std::vector<double> log_softmax_row(const Tensor& logits, int64_t offset, int64_t v,
                                    std::span<const int32_t> never = {});

// GNMT's length penalty ((5 + length) / 6)^alpha.
double length_penalty(int64_t length, double alpha);

}  // namespace attnlab
