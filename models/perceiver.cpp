#include "models/model.h"

#include <fmt/format.h>

namespace attnlab {

PerceiverModel::PerceiverModel(const ModelConfig& c) : Model(c) {
  tokens_ = register_module("token_embedding", std::make_shared<Embedding>(c.vocab_size, c.d_model,
                                                                           init_, c.embedding_std));
  embeddings_ =
      register_module("embeddings", std::make_shared<InputEmbedding>(c, tokens_, rng_, init_));
  latent_queries_ = register_parameter("latent_queries", init_.normal({c.num_latents, c.d_model}));
  input_norm_ =
      register_module("input_norm", std::make_shared<Norm>(c.d_model, c.norm, c.norm_eps, init_));
  cross_attn_norm_ = register_module("cross_attn_norm",
                                     std::make_shared<Norm>(c.d_model, c.norm, c.norm_eps, init_));
  cross_attn_ = register_module(
      "cross_attn", std::make_shared<MultiHeadAttention>(c.d_model, c.n_heads, c.bias,
                                                         c.scale_scores, c.dropout, rng_, init_));
  cross_ffn_norm_ = register_module("cross_ffn_norm",
                                    std::make_shared<Norm>(c.d_model, c.norm, c.norm_eps, init_));
  cross_ffn_ =
      register_module("cross_ffn", std::make_shared<FeedForward>(c.d_model, c.d_ff, c.activation,
                                                                 c.bias, c.dropout, rng_, init_));
  latent_ = register_module(
      "latent", std::make_shared<TransformerStack>(BlockKind::Encoder, c.n_layers, c, rng_, init_));
  classifier_ = register_module("classifier",
                                std::make_shared<Linear>(c.d_model, c.num_classes, true, init_));
}

Tensor PerceiverModel::latents(const IntTensor& ids, const Mask* padding,
                               std::vector<BlockAttention>* attention) const {
  check_ids(where(), "ids", ids, padding);
  const int64_t b = ids.shape[0], l = config_.num_latents, c = config_.d_model;
  Tensor inputs = input_norm_->forward(embeddings_->forward(ids));             // (B,T,C)
  Tensor lat = add(Tensor::zeros({b, l, c}, config_.dtype), latent_queries_);  // (B,L,C)
  // The one cross-attention: L queries read all T inputs (padding blocked).
  BlockAttention cross;
  Tensor read = cross_attn_->forward(cross_attn_norm_->forward(lat), inputs,
                                     AttentionMasks{padding, false, nullptr},
                                     attention ? &cross.cross_weights : nullptr);
  lat = add(lat, read);
  lat = add(lat, cross_ffn_->forward(cross_ffn_norm_->forward(lat)));
  if (attention) cross.output = lat.detach();
  std::vector<BlockAttention> latent_attention;
  lat = latent_->forward(lat, nullptr, nullptr, nullptr, attention ? &latent_attention : nullptr);
  if (attention) {
    attention->clear();
    attention->push_back(cross);
    attention->insert(attention->end(), latent_attention.begin(), latent_attention.end());
  }
  return lat;  // (B,L,C)
}

Tensor PerceiverModel::classify(const IntTensor& ids, const Mask* padding,
                                std::vector<BlockAttention>* attention) const {
  Tensor pooled = mean(latents(ids, padding, attention), 1);  // (B,C)
  return classifier_->forward(pooled);                        // (B,classes)
}

void PerceiverModel::name_attention(Forward, const std::vector<BlockAttention>& attention,
                                    const std::string& axis, const std::string&,
                                    Trace& trace) const {
  std::vector<std::string> slots;
  for (int64_t l = 0; l < config_.num_latents; ++l) slots.push_back(fmt::format("L{}", l));
  trace.axes.push_back({"latents", slots});
  add_traced_block(trace, "latent", attention.at(0), "latent cross", "latents", axis);
  add_traced_stack(trace, "latent", std::span(attention).subspan(1), "bidirectional self",
                   "latents", "");
}

}  // namespace attnlab
