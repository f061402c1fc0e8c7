// What a model costs, from its config alone (no model built), so a user can
// size and compare models before training them (`attnlab describe`).
// Parameters per component, FLOPs, activation memory, KV-cache bytes, and
// where each attention lives with its mask. Tests hold every formula to the
// built model: parameter counts to its tensors exactly, FLOPs and activation
// bytes to op-level counts taken while a forward pass runs
// (autograd/accounting.h).
#pragma once

#include <string>
#include <vector>

#include "models/model.h"

namespace attnlab {

// Parameters by what they do. Norms include the embedding norm; embeddings
// include position tables and the Perceiver's latent queries; attention
// includes T5's relative position bias tables; heads are the pooler,
// classifier, masked-LM and untied LM heads.
struct ParameterBreakdown {
  int64_t embeddings = 0, attention = 0, ffn = 0, norms = 0, heads = 0;
  int64_t total() const { return embeddings + attention + ffn + norms + heads; }
};

// The component a parameter belongs to, from its path ("encoder/layers/0/
// self_attn/q_proj/weight" -> attention).
enum class ParameterComponent { Embeddings, Attention, FFN, Norms, Heads };
ParameterComponent parameter_component(const std::string& path);
void add_to(ParameterBreakdown& breakdown, ParameterComponent component, int64_t count);

struct ModelStats {
  ParameterBreakdown parameters;
  // Forward FLOPs per token (matrix products only; multiply-add = 2):
  double dense_flops = 0;      // products with weight matrices (incl. the LM head)
  double attention_flops = 0;  // QK^T scores and weights x V
  double forward_flops() const { return dense_flops + attention_flops; }
  double backward_flops() const { return 2 * forward_flops(); }  // dX and dW each cost a forward
  double training_flops() const { return 3 * forward_flops(); }
  // Bytes per token of the tensors the forward graph keeps for backward
  // (inputs and outputs of every op, from the embeddings to the logits),
  // for full-length sequences (no padding mask).
  double activation_bytes = 0;
  // Generation (GPT, T5; 0 for classifiers): keys and values kept per
  // generated token by the decoder's self-attention, and per source token by
  // T5's cross-attention (computed once from the encoder output).
  double self_cache_bytes_per_token = 0;
  double cross_cache_bytes_per_source_token = 0;
};

// Per token of `batch` sequences of `seq_len` tokens. T5: per target token,
// with a source of the same length (encoder work counted per source token).
// Perceiver: per input token, the latent work spread over the input.
ModelStats model_stats(const ModelConfig& config, int64_t seq_len, int64_t batch = 1);

// The pass the FLOP and activation formulas describe: `batch` sequences of
// `seq_len` tokens (ids 1..7 repeating) through the model's main output,
// logits for decoders (T5: source and target both the sequence) and class
// logits for classifiers. Used to check the formulas and to measure them.
Tensor forward_for_stats(const Model& model, int64_t batch, int64_t seq_len);

// ---- where the attention lives -----------------------------------------------

enum class AttentionKind { BidirectionalSelf, CausalSelf, Cross, LatentCross };
inline constexpr EnumName<AttentionKind> kAttentionKindNames[] = {
    {AttentionKind::BidirectionalSelf, "bidirectional self"},
    {AttentionKind::CausalSelf, "causal self"},
    {AttentionKind::Cross, "cross"},
    {AttentionKind::LatentCross, "latent cross"}};

struct AttentionSite {
  AttentionKind kind;
  std::string queries, keys;  // what the queries and keys/values come from
  Shape scores;               // (B,H,Tq,Tk)
  std::string mask;           // the mask(s) applied and their shapes
};

struct BlockLayout {
  std::string name;  // e.g. "decoder.1"
  std::vector<AttentionSite> attention;
  std::string rest;  // what follows the attention (FFN, pooling, head)
};

// The model's stages in order, for `batch` sequences of `seq_len` tokens
// (T5: source and target both `seq_len`).
std::vector<BlockLayout> model_layout(const ModelConfig& config, int64_t seq_len, int64_t batch);

// "d_model 128, 4 heads, d_ff 512, 2 layers, vocab 64, ...": one model's
// shape in a line, with what its family adds (decoder layers, latents).
std::string architecture_summary(const ModelConfig& config);

}  // namespace attnlab
