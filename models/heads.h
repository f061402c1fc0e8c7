// A model's attentions by name and kind, for removing heads (attnlab
// ablate): every family is built from the same MultiHeadAttention, so one
// list covers encoder and decoder self-attention, cross-attention and the
// Perceiver's latent attentions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "layers/attention.h"
#include "layers/block.h"
#include "models/model.h"

namespace attnlab {

struct AttentionModule {
  std::string path;  // e.g. "decoder/layers/1/cross_attn"
  // "encoder self", "decoder self" (causal), "cross", "latent cross" or
  // "latent self"
  std::string kind;
  int64_t layer = 0;  // its block in its stack (0 for the Perceiver's cross-attention)
  MultiHeadAttention* attention = nullptr;
};

// Every attention of `model`, in registration order.
std::vector<AttentionModule> attention_sites(Model& model);

// A transformer block of a model, for patching its activations.
struct BlockModule {
  std::string path;   // e.g. "decoder/layers/1": also the name of its state in a Trace
  std::string stack;  // "encoder", "decoder" or "latent"
  int64_t layer = 0;
  TransformerBlock* block = nullptr;
};
// Every block of `model`, in registration order.
std::vector<BlockModule> block_modules(Model& model);

}  // namespace attnlab
