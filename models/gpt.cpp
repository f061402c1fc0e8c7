#include <fmt/format.h>

#include <stdexcept>

#include "models/model.h"

namespace attnlab {

GptModel::GptModel(const ModelConfig& c) : Model(c) {
  tokens_ = register_module("token_embedding", std::make_shared<Embedding>(c.vocab_size, c.d_model,
                                                                           init_, c.embedding_std));
  embeddings_ =
      register_module("embeddings", std::make_shared<InputEmbedding>(c, tokens_, rng_, init_));
  decoder_ = register_module("decoder", std::make_shared<TransformerStack>(
                                            BlockKind::Decoder, c.n_layers, c, rng_, init_));
  if (!c.tie_embeddings)
    lm_head_ =
        register_module("lm_head", std::make_shared<Linear>(c.d_model, c.vocab_size, false, init_));
}

Tensor GptModel::decode(const IntTensor& ids, const Mask* padding, const Tensor* memory,
                        const Mask* memory_padding, std::vector<BlockAttention>* attention) const {
  if (memory || memory_padding)
    throw std::logic_error(fmt::format(
        "{}: a decoder-only model reads its condition from the sequence; it takes no encoder "
        "output",
        where()));
  check_ids(where(), "ids", ids, padding);
  Tensor h = decoder_->forward(embeddings_->forward(ids), padding, nullptr, nullptr, attention);
  return lm_logits(h, *tokens_, lm_head_.get());  // (B,T,V)
}

Tensor GptModel::decode_prefix(const IntTensor& ids, const Mask* padding,
                               const std::vector<int64_t>& prefix,
                               std::vector<BlockAttention>* attention) const {
  if (!config_.prefix_lm)
    throw std::logic_error(
        fmt::format("{}: decode_prefix needs a model built with prefix_lm=true", where()));
  check_ids(where(), "ids", ids, padding);
  if (int64_t(prefix.size()) != ids.shape.at(0))
    throw std::invalid_argument(
        fmt::format("{}: {} prefix lengths for {} rows", where(), prefix.size(), ids.shape.at(0)));
  Tensor h =
      decoder_->forward(embeddings_->forward(ids), padding, nullptr, nullptr, attention, &prefix);
  return lm_logits(h, *tokens_, lm_head_.get());  // (B,T,V)
}

Tensor GptModel::lens_logits(const Tensor& hidden) const {
  return lm_logits(decoder_->finish(hidden), *tokens_, lm_head_.get());  // (..., V)
}

DecodeCache GptModel::start_decoding(int64_t batch, int64_t capacity, const Tensor* memory,
                                     const Mask* memory_padding) const {
  if (memory || memory_padding)
    throw std::logic_error(fmt::format(
        "{}: a decoder-only model takes no encoder output; its prompt is its condition", where()));
  if (capacity > config_.max_len)
    throw std::invalid_argument(
        fmt::format("{}: a cache for {} tokens, but the position table has {} (max_len)", where(),
                    capacity, config_.max_len));
  DecodeCache cache;
  cache.blocks = decoder_->start_cache(batch, capacity, config_.dtype, nullptr);
  return cache;
}

Tensor GptModel::decode_cached(const IntTensor& tokens, const std::vector<int64_t>& start,
                               DecodeCache& cache) const {
  check_ids(where(), "tokens", tokens, nullptr);
  Tensor h = decoder_->forward_cached(embeddings_->forward_at(tokens, start), cache.blocks, start,
                                      nullptr, cache.prefix.empty() ? nullptr : &cache.prefix);
  return lm_logits(h, *tokens_, lm_head_.get());  // (B,Tn,V)
}

}  // namespace attnlab
