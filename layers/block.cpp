#include "layers/block.h"

#include <fmt/format.h>

#include <stdexcept>

namespace attnlab {

TransformerBlock::TransformerBlock(BlockKind kind, const BlockConfig& c, SharedGenerator rng,
                                   ParamInit& init)
    : kind_(kind), placement_(c.placement) {
  auto make_norm = [&] { return std::make_shared<Norm>(c.dim, c.norm, c.norm_eps, init); };
  auto make_attn = [&] {
    return std::make_shared<MultiHeadAttention>(c.dim, c.heads, c.bias, c.scale_scores, c.dropout,
                                                rng, init);
  };
  self_attn_norm_ = register_module("self_attn_norm", make_norm());
  self_attn_ = register_module("self_attn", make_attn());
  if (kind == BlockKind::EncoderDecoder) {
    cross_attn_norm_ = register_module("cross_attn_norm", make_norm());
    cross_attn_ = register_module("cross_attn", make_attn());
  }
  ffn_norm_ = register_module("ffn_norm", make_norm());
  ffn_ = register_module("ffn", std::make_shared<FeedForward>(c.dim, c.ffn_dim, c.activation,
                                                              c.bias, c.dropout, rng, init));
  dropout_ = register_module("dropout", std::make_shared<Dropout>(c.dropout, rng));
}

template <typename F>
Tensor TransformerBlock::residual(const Tensor& x, const Norm& norm, F&& sublayer) const {
  if (placement_ == NormPlacement::Pre) return add(x, dropout_->forward(sublayer(norm.forward(x))));
  return norm.forward(add(x, dropout_->forward(sublayer(x))));
}

Tensor TransformerBlock::forward(const Tensor& x, const BlockInputs& in,
                                 BlockAttention* attention) const {
  if (kind_ == BlockKind::EncoderDecoder && !in.memory)
    throw std::invalid_argument(
        fmt::format("{}: an encoder-decoder block needs the encoder output (memory)", where()));
  Tensor* self_w = attention ? &attention->self_weights : nullptr;
  Tensor* cross_w = attention ? &attention->cross_weights : nullptr;

  AttentionMasks self_masks{in.padding, kind_ != BlockKind::Encoder, in.self_bias, in.prefix};
  const Tensor input = hooked(BlockSite::Input, x);
  Tensor h = residual(input, *self_attn_norm_, [&](const Tensor& t) {
    // K/V from the same sequence
    return hooked(BlockSite::SelfAttention, self_attn_->forward(t, t, self_masks, self_w));
  });
  if (kind_ == BlockKind::EncoderDecoder) {
    AttentionMasks cross_masks{in.memory_padding, false, nullptr};
    h = residual(h, *cross_attn_norm_, [&](const Tensor& t) {
      // K/V from the encoder
      return hooked(BlockSite::CrossAttention,
                    cross_attn_->forward(t, *in.memory, cross_masks, cross_w));
    });
  }
  h = residual(h, *ffn_norm_,
               [&](const Tensor& t) { return hooked(BlockSite::FeedForward, ffn_->forward(t)); });
  return hooked(BlockSite::Output, h);
}

BlockCache TransformerBlock::start_cache(int64_t batch, int64_t capacity, DType dtype,
                                         const Tensor* memory) const {
  BlockCache cache;
  cache.self = self_attn_->empty_cache(batch, capacity, dtype);
  if (kind_ == BlockKind::EncoderDecoder) {
    if (!memory)
      throw std::invalid_argument(
          fmt::format("{}: an encoder-decoder block needs the encoder output (memory)", where()));
    cache.cross = cross_attn_->memory_cache(*memory);
  }
  return cache;
}

Tensor TransformerBlock::forward_cached(const Tensor& x, BlockCache& cache,
                                        const std::vector<int64_t>& start, const Tensor* self_bias,
                                        const Mask* memory_padding,
                                        const std::vector<int64_t>* prefix) const {
  if (kind_ == BlockKind::Encoder)
    throw std::logic_error(fmt::format("{}: an encoder block does not decode", where()));
  Tensor h = residual(x, *self_attn_norm_, [&](const Tensor& t) {
    return self_attn_->forward_cached(t, cache.self, start, self_bias, prefix);
  });
  if (kind_ == BlockKind::EncoderDecoder)
    h = residual(h, *cross_attn_norm_, [&](const Tensor& t) {
      return cross_attn_->forward_memory(t, cache.cross, memory_padding);
    });
  return residual(h, *ffn_norm_, [&](const Tensor& t) { return ffn_->forward(t); });
}

}  // namespace attnlab
