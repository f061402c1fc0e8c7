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

}  // namespace attnlab
