#include <fmt/format.h>

#include <stdexcept>

#include "models/model.h"

namespace attnlab {

BertModel::BertModel(const ModelConfig& c) : Model(c) {
  tokens_ = register_module("token_embedding", std::make_shared<Embedding>(c.vocab_size, c.d_model,
                                                                           init_, c.embedding_std));
  embeddings_ =
      register_module("embeddings", std::make_shared<InputEmbedding>(c, tokens_, rng_, init_));
  encoder_ = register_module("encoder", std::make_shared<TransformerStack>(
                                            BlockKind::Encoder, c.n_layers, c, rng_, init_));
  pooler_ = register_module("pooler", std::make_shared<Linear>(c.d_model, c.d_model, true, init_));
  dropout_ = register_module("dropout", std::make_shared<Dropout>(c.dropout, rng_));
  classifier_ = register_module("classifier",
                                std::make_shared<Linear>(c.d_model, c.num_classes, true, init_));
  if (c.mlm_head) {
    mlm_dense_ =
        register_module("mlm_dense", std::make_shared<Linear>(c.d_model, c.d_model, true, init_));
    mlm_norm_ = register_module(
        "mlm_norm", std::make_shared<Norm>(c.d_model, NormKind::LayerNorm, c.norm_eps, init_));
    if (c.tie_embeddings)
      mlm_bias_ = register_parameter("mlm_bias", init_.zeros({c.vocab_size}));
    else
      mlm_decoder_ = register_module(
          "mlm_decoder", std::make_shared<Linear>(c.d_model, c.vocab_size, true, init_));
  }
}

Tensor BertModel::encode(const IntTensor& ids, const Mask* padding,
                         std::vector<BlockAttention>* attention) const {
  check_ids(where(), "ids", ids, padding);
  return encoder_->forward(embeddings_->forward(ids), padding, nullptr, nullptr, attention);
}

Tensor BertModel::classify(const IntTensor& ids, const Mask* padding,
                           std::vector<BlockAttention>* attention) const {
  Tensor h = encode(ids, padding, attention);                       // (B,T,C)
  Tensor cls = reshape(slice(h, 1, 0, 1), {h.size(0), h.size(2)});  // (B,C) at [CLS]
  Tensor pooled = tanh(pooler_->forward(cls));
  return classifier_->forward(dropout_->forward(pooled));  // (B,classes)
}

Tensor BertModel::masked_lm_logits(const Tensor& hidden) const {
  if (!mlm_dense_)
    throw std::logic_error(
        fmt::format("{}: this BERT has no masked-LM head (set mlm_head=true)", where()));
  // BERT's prediction-head transform uses the exact erf GELU, whatever the
  // encoder's activation.
  Tensor h = mlm_norm_->forward(gelu(mlm_dense_->forward(hidden), GeluApprox::Erf));
  if (mlm_decoder_) return mlm_decoder_->forward(h);
  return add(lm_logits(h, *tokens_, nullptr), mlm_bias_);  // tied, with its own output bias
}

}  // namespace attnlab
