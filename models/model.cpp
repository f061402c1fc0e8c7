#include "models/model.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace attnlab {

Model::Model(const ModelConfig& config)
    : config_(config),
      // Dropout draws from its own stream so that changing dropout does not
      // change the initial weights.
      rng_(std::make_shared<Generator>(Generator{config.seed ^ 0xD80F0D80F0ULL, 0})),
      init_{Generator{config.seed, 0}, config.init_std, config.dtype} {
  validate(config_);
}

namespace {
[[noreturn]] void unsupported(const Model& m, const char* method, const char* why) {
  throw std::logic_error(
      fmt::format("a {} model has no {}(): {}", family_name(m.config().family), method, why));
}
}  // namespace

Tensor Model::classify(const IntTensor&, const Mask*, std::vector<BlockAttention>*) const {
  unsupported(*this, "classify", "it generates text; classify by ranking the labels as text");
}
Tensor Model::encode(const IntTensor&, const Mask*, std::vector<BlockAttention>*) const {
  unsupported(*this, "encode", "it has no separate encoder");
}
Tensor Model::decode(const IntTensor&, const Mask*, const Tensor*, const Mask*,
                     std::vector<BlockAttention>*) const {
  unsupported(*this, "decode", "it is an encoder-only classifier and cannot generate");
}
DecodeCache Model::start_decoding(int64_t, int64_t, const Tensor*, const Mask*) const {
  unsupported(*this, "start_decoding", "only GPT and T5 generate");
}
Tensor Model::decode_cached(const IntTensor&, const std::vector<int64_t>&, DecodeCache&) const {
  unsupported(*this, "decode_cached", "only GPT and T5 generate");
}

Tensor Model::masked_lm_logits(const Tensor&) const {
  unsupported(*this, "masked_lm_logits", "only BERT has a masked-LM head");
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
