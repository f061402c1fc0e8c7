// The three transformer blocks, as one class whose `BlockKind`
// picks the routing:
//   Encoder         self-attention (bidirectional) -> FFN       BERT, T5 encoder
//   Decoder         causal self-attention -> FFN                GPT
//   EncoderDecoder  causal self-attention -> cross-attention
//                   to the encoder output -> FFN                T5 decoder
// Each sublayer is wrapped in a residual connection with the norm before it
// (pre-norm: GPT-2, T5) or after the sum (post-norm: original Transformer, BERT).
#pragma once

#include <functional>

#include "layers/attention.h"

namespace attnlab {

enum class BlockKind { Encoder, Decoder, EncoderDecoder };
inline constexpr EnumName<BlockKind> kBlockKindNames[] = {
    {BlockKind::Encoder, "encoder"},
    {BlockKind::Decoder, "decoder"},
    {BlockKind::EncoderDecoder, "encoder-decoder"}};
inline const char* block_kind_name(BlockKind kind) {
  return enum_name(kBlockKindNames, kind);
}

enum class NormPlacement { Pre, Post };
inline constexpr EnumName<NormPlacement> kNormPlacementNames[] = {{NormPlacement::Pre, "pre"},
                                                                  {NormPlacement::Post, "post"}};

struct BlockConfig {
  int64_t dim = 64;       // C
  int64_t heads = 4;      // H (D = C / H)
  int64_t ffn_dim = 256;  // F
  NormKind norm = NormKind::LayerNorm;
  double norm_eps = 1e-5;
  NormPlacement placement = NormPlacement::Pre;
  Activation activation = Activation::GELU;
  bool bias = true;          // biases in projections and FFN
  bool scale_scores = true;  // 1/sqrt(D) on attention scores
  double dropout = 0.1;      // residual, attention-weight and FFN dropout
};

// What a block reads besides its input.
struct BlockInputs {
  const Mask* padding = nullptr;         // (B,T) 1 = padding, for self-attention keys
  const Tensor* self_bias = nullptr;     // (1,H,T,T) relative position bias
  const Tensor* memory = nullptr;        // (B,Tm,C) encoder output (EncoderDecoder only)
  const Mask* memory_padding = nullptr;  // (B,Tm) 1 = padding in the encoder output
  // (B) a prefix LM's prefix lengths, for causal self-attention (AttentionMasks::prefix)
  const std::vector<int64_t>* prefix = nullptr;
};

// Attention weights a block hands back for study, when asked.
// What a block shows when asked (for study): its attention weights and the
// hidden state it hands on.
struct BlockAttention {
  Tensor self_weights;   // (B,H,T,T)
  Tensor cross_weights;  // (B,H,T,Tm)
  Tensor output;         // (B,T,C), set by the stack that runs the block
};

// A block's decoding cache: its self-attention's keys and values, and for an
// encoder-decoder block the cross-attention's, computed once from the memory.
struct BlockCache {
  KVCache self, cross;
};

// Where a study reads or overwrites a block's activations (attnlab patch):
// the residual stream it reads (for the first block, the embedded tokens),
// each attention's and the FFN's output before it joins the residual
// stream, and the block's output, the residual stream it hands on.
enum class BlockSite { Input, SelfAttention, CrossAttention, FeedForward, Output };
inline constexpr EnumName<BlockSite> kBlockSiteNames[] = {
    {BlockSite::Input, "block input"},
    {BlockSite::SelfAttention, "self-attention"},
    {BlockSite::CrossAttention, "cross-attention"},
    {BlockSite::FeedForward, "feed-forward"},
    {BlockSite::Output, "block output"}};
// Called with each site's value (B,T,C) as forward() computes it; the block
// goes on with what it returns (the value itself, to only read it).
using ActivationHook = std::function<Tensor(BlockSite site, const Tensor& value)>;

class TransformerBlock : public Module {
 public:
  TransformerBlock(BlockKind kind, const BlockConfig& config, SharedGenerator rng, ParamInit& init);
  // x (B,T,C) -> (B,T,C)
  Tensor forward(const Tensor& x, const BlockInputs& in, BlockAttention* attention = nullptr) const;
  BlockKind kind() const { return kind_; }
  // Sets (or, with an empty hook, clears) the hook forward() calls at every
  // site. Cached decoding never calls it.
  void set_hook(ActivationHook hook) { hook_ = std::move(hook); }

  // Decoding (see KVCache): new tokens x (B,Tn,C) at row b's positions
  // start[b].. -> (B,Tn,C), the same as forward() over the whole prefix at
  // those positions. self_bias (1 or B,H,Tn,Tk) for relative positions.
  BlockCache start_cache(int64_t batch, int64_t capacity, DType dtype, const Tensor* memory) const;
  Tensor forward_cached(const Tensor& x, BlockCache& cache, const std::vector<int64_t>& start,
                        const Tensor* self_bias, const Mask* memory_padding,
                        const std::vector<int64_t>* prefix = nullptr) const;

 private:
  // Residual wrapper: pre-norm x + drop(f(norm(x))), post-norm norm(x + drop(f(x))).
  template <typename F>
  Tensor residual(const Tensor& x, const Norm& norm, F&& sublayer) const;

  // The hook's value at `site`, or `value` when there is none.
  Tensor hooked(BlockSite site, const Tensor& value) const {
    return hook_ ? hook_(site, value) : value;
  }

  BlockKind kind_;
  NormPlacement placement_;
  ActivationHook hook_;
  std::shared_ptr<Norm> self_attn_norm_, cross_attn_norm_, ffn_norm_;
  std::shared_ptr<MultiHeadAttention> self_attn_, cross_attn_;
  std::shared_ptr<FeedForward> ffn_;
  std::shared_ptr<Dropout> dropout_;
};

}  // namespace attnlab
