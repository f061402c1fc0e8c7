// What `attnlab trace` records of one example: every attention map with the
// token axes it joins, and the hidden state after every block. Models name
// their own stacks (Model::name_attention), framings name the token axes.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "autograd/tensor.h"

namespace attnlab {

// Token axes: "input" (what an encoder or classifier reads), "decoder" (an
// encoder-decoder's decoder input), "sequence" (a decoder-only model's whole
// row), "latents" (the Perceiver's latent slots).
struct TraceMap {
  std::string name;  // "encoder/layers/0/self_attn", "decoder/layers/1/cross_attn", ...
  std::string kind;  // "bidirectional self", "causal self", "prefix self", "cross", "latent cross"
  std::string query_axis, key_axis;
  Tensor weights;  // (H,Tq,Tk)
};
struct TraceState {
  std::string name;  // "encoder/layers/0", ...: the block's output
  std::string axis;
  Tensor hidden;  // (T,C)
};
struct Trace {
  std::string input, output;  // the text and the prediction
  std::vector<std::pair<std::string, std::vector<std::string>>> axes;  // name, tokens
  std::vector<TraceMap> maps;
  std::vector<TraceState> states;
  // A prefix LM: how many positions of its decoder's axis are its prefix,
  // read both ways (0 when none).
  int64_t prefix = 0;
};

}  // namespace attnlab
