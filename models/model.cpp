#include "models/model.h"

#include <cmath>

namespace attnlab {

Model::Model(const ModelConfig& config)
    : config_(config),
      // Dropout draws from its own stream so that changing dropout does not
      // change the initial weights.
      rng_(std::make_shared<Generator>(Generator{config.seed ^ 0xD80F0D80F0ULL, 0})),
      init_{Generator{config.seed, 0}, config.init_std, config.dtype} {
  validate(config_);
}

Tensor Model::lm_logits(const Tensor& h, const Embedding& tokens, const Linear* untied_head) const {
  if (untied_head) return untied_head->forward(h);
  // T5 rescales before the tied head: its embeddings are O(1), not O(std).
  Tensor scaled =
      config_.scale_tied_logits ? mul_scalar(h, 1.0 / std::sqrt(double(config_.d_model))) : h;
  return matmul(scaled, tokens.weight, false, true);  // (..., C) x (V, C)^T -> (..., V)
}

std::shared_ptr<Model> make_model(const ModelConfig& config) {
  switch (config.family) {
    case Family::BERT:
      return std::make_shared<BertModel>(config);
    case Family::GPT:
      return std::make_shared<GptModel>(config);
    case Family::T5:
      return std::make_shared<T5Model>(config);
    case Family::Perceiver:
      return std::make_shared<PerceiverModel>(config);
  }
  return nullptr;
}

}  // namespace attnlab
