#include <fmt/format.h>

#include <stdexcept>

#include "models/model.h"

namespace attnlab {

T5Model::T5Model(const ModelConfig& c) : Model(c) {
  // One embedding shared by encoder input, decoder input and (tied) output.
  shared_ = register_module(
      "shared", std::make_shared<Embedding>(c.vocab_size, c.d_model, init_, c.embedding_std));
  encoder_embeddings_ = register_module("encoder_embeddings",
                                        std::make_shared<InputEmbedding>(c, shared_, rng_, init_));
  decoder_embeddings_ = register_module("decoder_embeddings",
                                        std::make_shared<InputEmbedding>(c, shared_, rng_, init_));
  encoder_ = register_module("encoder", std::make_shared<TransformerStack>(
                                            BlockKind::Encoder, c.n_layers, c, rng_, init_));
  decoder_ = register_module(
      "decoder", std::make_shared<TransformerStack>(BlockKind::EncoderDecoder, c.n_decoder_layers,
                                                    c, rng_, init_));
  if (!c.tie_embeddings)
    lm_head_ =
        register_module("lm_head", std::make_shared<Linear>(c.d_model, c.vocab_size, false, init_));
}

Tensor T5Model::encode(const IntTensor& src, const Mask* src_padding,
                       std::vector<BlockAttention>* attention) const {
  check_ids(where(), "source ids", src, src_padding);
  return encoder_->forward(encoder_embeddings_->forward(src), src_padding, nullptr, nullptr,
                           attention);
}

Tensor T5Model::decode(const IntTensor& tgt, const Mask* tgt_padding, const Tensor* memory,
                       const Mask* src_padding, std::vector<BlockAttention>* attention) const {
  check_ids(where(), "target ids", tgt, tgt_padding);
  if (!memory)
    throw std::invalid_argument(
        fmt::format("{}: decode needs the encoder output (memory = encode(source))", where()));
  if (memory->dim() != 3 || memory->size(0) != tgt.shape[0] || memory->size(2) != config_.d_model)
    throw std::invalid_argument(fmt::format("{}: encoder output must be (B={},Ts,C={}), got {}",
                                            where(), tgt.shape[0], config_.d_model,
                                            shape_str(memory->shape())));
  Tensor h = decoder_->forward(decoder_embeddings_->forward(tgt), tgt_padding, memory, src_padding,
                               attention);
  return lm_logits(h, *shared_, lm_head_.get());  // (B,Tt,V)
}

Tensor T5Model::logits(const IntTensor& src, const Mask* src_padding, const IntTensor& tgt,
                       const Mask* tgt_padding) const {
  const Tensor memory = encode(src, src_padding);  // (B,Ts,C)
  return decode(tgt, tgt_padding, &memory, src_padding);
}

Tensor T5Model::lens_logits(const Tensor& hidden) const {
  return lm_logits(decoder_->finish(hidden), *shared_, lm_head_.get());  // (..., V)
}

DecodeCache T5Model::start_decoding(int64_t batch, int64_t capacity, const Tensor* memory,
                                    const Mask* memory_padding) const {
  if (!memory || memory->dim() != 3 || memory->size(0) != batch ||
      memory->size(2) != config_.d_model)
    throw std::invalid_argument(fmt::format(
        "{}: decoding needs the encoder output (B={},Ts,C={}) (memory = encode(source)), got {}",
        where(), batch, config_.d_model, memory ? shape_str(memory->shape()) : "none"));
  if (config_.positions == PositionScheme::Learned && capacity > config_.max_len)
    throw std::invalid_argument(
        fmt::format("{}: a cache for {} tokens, but the position table has {} (max_len)", where(),
                    capacity, config_.max_len));
  DecodeCache cache;
  cache.blocks = decoder_->start_cache(batch, capacity, config_.dtype, memory);
  if (memory_padding) cache.memory_padding = *memory_padding;
  return cache;
}

Tensor T5Model::decode_cached(const IntTensor& tokens, const std::vector<int64_t>& start,
                              DecodeCache& cache) const {
  check_ids(where(), "target tokens", tokens, nullptr);
  const Mask* padding = cache.memory_padding.blocked.empty() ? nullptr : &cache.memory_padding;
  Tensor h = decoder_->forward_cached(decoder_embeddings_->forward_at(tokens, start), cache.blocks,
                                      start, padding);
  return lm_logits(h, *shared_, lm_head_.get());  // (B,Tn,V)
}

}  // namespace attnlab
