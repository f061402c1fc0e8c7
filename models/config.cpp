#include "models/config.h"

#include <fmt/format.h>

#include <cmath>

#include <stdexcept>
#include <vector>

namespace attnlab {

ModelConfig preset(Family family) {
  ModelConfig c;
  c.family = family;
  switch (family) {
    case Family::BERT:  // post-LN, learned positions, LayerNorm on embeddings, [CLS] pooler
      c.placement = NormPlacement::Post;
      c.final_norm = false;  // post-norm blocks already end in a norm
      c.embedding_norm = true;
      c.positions = PositionScheme::Learned;
      break;
    case Family::GPT:  // pre-LN with a final norm, learned positions, tied LM head, tanh GELU
      c.placement = NormPlacement::Pre;
      c.final_norm = true;
      c.positions = PositionScheme::Learned;
      c.tie_embeddings = true;
      c.activation = Activation::GELUTanh;  // GPT-2's approximation
      break;
    case Family::T5:  // pre-norm RMSNorm, relative bias, no biases, tied head scaled by C^-0.5
      c.norm = NormKind::RMSNorm;
      c.norm_eps = 1e-6;
      c.placement = NormPlacement::Pre;
      c.final_norm = true;
      c.positions = PositionScheme::Relative;
      c.bias = false;
      // T5 itself drops the 1/sqrt(D) score scale and folds it into a
      // per-matrix initialisation. With the shared N(0, 0.02) init used here,
      // unscaled scores train far worse (dates, 600 steps: 1% exact match
      // unscaled vs 80% scaled), so the preset scales; --set
      // scale_scores=false gives the original form.
      c.activation = Activation::ReLU;
      c.tie_embeddings = true;
      c.scale_tied_logits = true;
      c.embedding_std = 1.0;
      break;
    case Family::Perceiver:  // latents cross-attend once, then latent self-attention
      c.placement = NormPlacement::Pre;
      c.final_norm = true;
      c.positions = PositionScheme::Learned;
      c.num_latents = 16;
      break;
  }
  return c;
}

const FieldTable<ModelConfig>& model_config_fields() {
  using C = ModelConfig;
  static const FieldTable<C> table = [] {
    FieldTable<C> t("model config");
    t.add("family", &C::family, kFamilyNames, "architecture family")
        .add("vocab_size", &C::vocab_size, "V, tokens in the vocabulary (set from the data)")
        .add("num_classes", &C::num_classes, "classification labels (set from the data)")
        .add("d_model", &C::d_model, "C, the residual stream width")
        .add("n_heads", &C::n_heads, "H, attention heads (head dim C/H)")
        .add("d_ff", &C::d_ff, "F, the feed-forward hidden width")
        .add("n_layers", &C::n_layers, "encoder (BERT, T5), decoder (GPT) or latent blocks")
        .add("n_decoder_layers", &C::n_decoder_layers, "T5 decoder blocks")
        .add("max_len", &C::max_len, "longest sequence the model accepts")
        .add("dropout", &C::dropout, "dropout probability everywhere in the model")
        .add("norm", &C::norm, kNormKindNames, "normalisation")
        .add("norm_eps", &C::norm_eps, "epsilon inside the norm's square root")
        .add("placement", &C::placement, kNormPlacementNames, "norm before or after each sublayer")
        .add("final_norm", &C::final_norm, "a norm after the last block")
        .add("embedding_norm", &C::embedding_norm, "a LayerNorm on the summed embeddings (BERT)")
        .add("activation", &C::activation, kActivationNames, "feed-forward activation")
        .add("bias", &C::bias, "biases in attention projections and feed-forward layers")
        .add("scale_scores", &C::scale_scores, "divide attention scores by sqrt(head dim)")
        .add("positions", &C::positions, kPositionNames, "position information")
        .add("relative_buckets", &C::relative_buckets, "T5 relative-position buckets")
        .add("relative_max_distance", &C::relative_max_distance,
             "distance at which relative buckets saturate")
        .add("tie_embeddings", &C::tie_embeddings, "output head reuses the token embeddings")
        .add("scale_tied_logits", &C::scale_tied_logits, "T5: hidden * C^-0.5 before a tied head")
        .add("mlm_head", &C::mlm_head, "BERT: a masked-LM head tied to the embeddings")
        .add("prefix_lm", &C::prefix_lm,
             "GPT: a prefix LM, reading the prefix (a row's source, or a text's start) both ways "
             "and the rest causally")
        .add("num_latents", &C::num_latents, "Perceiver: learned latent queries")
        .add("init_std", &C::init_std, "standard deviation of weight initialisation")
        .add("embedding_std", &C::embedding_std, "standard deviation of token embeddings")
        .add("seed", &C::seed, "initialisation and dropout seed");
    return t;
  }();
  return table;
}

std::map<std::string, std::string> config_to_map(const ModelConfig& config) {
  return model_config_fields().to_map(config);
}

void set_config_field(ModelConfig& config, const std::string& key, const std::string& value) {
  model_config_fields().set(config, key, value);
}

ModelConfig config_from_map(const std::map<std::string, std::string>& values) {
  auto family = values.find("family");
  ModelConfig c = preset(family == values.end() ? Family::GPT : family_from_name(family->second));
  for (const auto& [k, v] : values) set_config_field(c, k, v);
  validate(c);
  return c;
}

namespace {

// Per-field bounds: generous for a CPU, and small enough that no size
// computation overflows and no table is allocated before the checks.
struct FieldBound {
  const char* field;
  int64_t ModelConfig::*member;
  int64_t max;
};
constexpr FieldBound kFieldBounds[] = {
    {"vocab_size", &ModelConfig::vocab_size, kMaxVocabSize},
    {"num_classes", &ModelConfig::num_classes, kMaxNumClasses},
    {"d_model", &ModelConfig::d_model, int64_t(1) << 14},
    {"d_ff", &ModelConfig::d_ff, int64_t(1) << 16},
    {"n_layers", &ModelConfig::n_layers, 512},
    {"n_decoder_layers", &ModelConfig::n_decoder_layers, 512},
    {"max_len", &ModelConfig::max_len, int64_t(1) << 16},
    {"relative_buckets", &ModelConfig::relative_buckets, int64_t(1) << 12},
    {"relative_max_distance", &ModelConfig::relative_max_distance, int64_t(1) << 20},
    {"num_latents", &ModelConfig::num_latents, int64_t(1) << 14},
};

}  // namespace

void validate(const ModelConfig& c) {
  auto require = [](bool ok, const char* field, const std::string& why) {
    if (!ok) throw std::invalid_argument(fmt::format("model config '{}': {}", field, why));
  };
  for (const FieldBound& b : kFieldBounds)
    require(c.*b.member <= b.max, b.field,
            fmt::format("{} is above the largest accepted, {}", c.*b.member, b.max));
  require(c.vocab_size > 0, "vocab_size", fmt::format("must be positive, got {}", c.vocab_size));
  require(c.d_model > 0, "d_model", fmt::format("must be positive, got {}", c.d_model));
  require(c.n_heads > 0 && c.d_model % c.n_heads == 0, "n_heads",
          fmt::format("d_model {} must be divisible by n_heads {}", c.d_model, c.n_heads));
  require(c.d_ff > 0, "d_ff", fmt::format("must be positive, got {}", c.d_ff));
  require(c.n_layers >= 0, "n_layers", fmt::format("must be >= 0, got {}", c.n_layers));
  require(c.n_decoder_layers >= 0, "n_decoder_layers",
          fmt::format("must be >= 0, got {}", c.n_decoder_layers));
  require(c.max_len > 0, "max_len", fmt::format("must be positive, got {}", c.max_len));
  require(c.dropout >= 0 && c.dropout < 1, "dropout",
          fmt::format("must be in [0, 1), got {}", c.dropout));
  require(c.num_classes >= 1, "num_classes", fmt::format("must be >= 1, got {}", c.num_classes));
  require(c.num_latents >= 1, "num_latents", fmt::format("must be >= 1, got {}", c.num_latents));
  require(c.relative_buckets >= 4, "relative_buckets",
          fmt::format("must be >= 4, got {}", c.relative_buckets));
  // The logarithmic buckets divide by log(max_distance / (relative_buckets / 2)).
  require(c.relative_max_distance > c.relative_buckets / 2, "relative_max_distance",
          fmt::format("must be greater than relative_buckets / 2 = {}, got {}",
                      c.relative_buckets / 2, c.relative_max_distance));
  require(c.norm_eps > 0 && std::isfinite(c.norm_eps), "norm_eps",
          fmt::format("must be positive and finite, got {}", c.norm_eps));
  // Relative positions live in attention biases between query and key
  // positions; a Perceiver's latents have no position in the input, so its
  // input would carry no order at all ("aabbb" and "bbbaa" alike).
  require(c.family != Family::Perceiver || c.positions != PositionScheme::Relative, "positions",
          "a Perceiver cannot use relative positions (its latents have no place in the input, so "
          "the input would get no order at all); use learned, sinusoidal or none");
  // Only a decoder-only model reads a prefix and its continuation in one stack.
  require(!c.prefix_lm || c.family == Family::GPT, "prefix_lm",
          "only a decoder-only model (gpt) has a prefix to read both ways; an encoder-decoder "
          "reads its source with its encoder already");
  require(c.init_std > 0 && c.embedding_std > 0 && std::isfinite(c.init_std) &&
              std::isfinite(c.embedding_std),
          "init_std", "standard deviations must be positive and finite");
  const int64_t params = parameter_count(c);
  if (params > kMaxModelParameters)
    throw std::invalid_argument(fmt::format(
        "model config: the model would have {} parameters (d_model {}, d_ff {}, {} layers, "
        "vocab_size {}), more than the {} attnlab accepts",
        params, c.d_model, c.d_ff, c.n_layers + c.n_decoder_layers, c.vocab_size,
        kMaxModelParameters));
}

BlockConfig block_config(const ModelConfig& c) {
  BlockConfig b;
  b.dim = c.d_model;
  b.heads = c.n_heads;
  b.ffn_dim = c.d_ff;
  b.norm = c.norm;
  b.norm_eps = c.norm_eps;
  b.placement = c.placement;
  b.activation = c.activation;
  b.bias = c.bias;
  b.scale_scores = c.scale_scores;
  b.dropout = c.dropout;
  return b;
}

}  // namespace attnlab
