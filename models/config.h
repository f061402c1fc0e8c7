// One config struct for every model family, with commented defaults, and the
// presets that reproduce each family's defining choices. Every field can be
// overridden, so the families can also be built from identical blocks for a
// controlled comparison in which only the attention routing differs.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/fields.h"
#include "layers/block.h"
#include "layers/positions.h"

namespace attnlab {

enum class Family {
  BERT,       // bidirectional encoder, [CLS] classification head
  GPT,        // causal decoder, tied LM head
  T5,         // encoder + decoder with cross-attention, tied LM head
  Perceiver,  // learned latents cross-attend to the input, latent self-attention
};
inline constexpr EnumName<Family> kFamilyNames[] = {{Family::BERT, "bert"},
                                                    {Family::GPT, "gpt"},
                                                    {Family::T5, "t5"},
                                                    {Family::Perceiver, "perceiver"}};

enum class PositionScheme { Learned, Sinusoidal, Relative, None };
inline constexpr EnumName<PositionScheme> kPositionNames[] = {
    {PositionScheme::Learned, "learned"},
    {PositionScheme::Sinusoidal, "sinusoidal"},
    {PositionScheme::Relative, "relative"},
    {PositionScheme::None, "none"}};

struct ModelConfig {
  Family family = Family::GPT;
  int64_t vocab_size = 64;       // V: set from the tokenizer
  int64_t num_classes = 2;       // classification heads (BERT, Perceiver)
  int64_t d_model = 128;         // C
  int64_t n_heads = 4;           // H; head dim D = C / H
  int64_t d_ff = 512;            // F, the FFN hidden width (4C is the usual choice)
  int64_t n_layers = 2;          // encoder (BERT, T5), decoder (GPT) or latent (Perceiver) blocks
  int64_t n_decoder_layers = 2;  // T5 decoder blocks
  int64_t max_len = 128;         // longest sequence the position table covers
  double dropout = 0.1;          // every dropout in the model

  NormKind norm = NormKind::LayerNorm;
  double norm_eps = 1e-5;
  NormPlacement placement = NormPlacement::Pre;  // pre-norm (GPT-2, T5) or post-norm (BERT)
  bool final_norm = true;       // a norm after the last block (pre-norm stacks need one)
  bool embedding_norm = false;  // LayerNorm on the summed embeddings (BERT)
  Activation activation = Activation::GELU;
  bool bias = true;          // biases in attention projections and FFN (T5: none)
  bool scale_scores = true;  // divide attention scores by sqrt(D) (original T5: no; see preset)

  PositionScheme positions = PositionScheme::Learned;
  int64_t relative_buckets = 32;        // T5 relative position buckets
  int64_t relative_max_distance = 128;  // distance beyond which buckets saturate

  bool tie_embeddings = true;      // LM head reuses the token embedding matrix
  bool scale_tied_logits = false;  // T5: hidden * C^-0.5 before the tied head
  bool prefix_lm = false;          // GPT: read the prefix (the source, or a text's start) both ways
  bool mlm_head = false;           // BERT: add a masked-LM head tied to the embedding
  int64_t num_latents = 16;        // Perceiver: learned latent queries

  double init_std = 0.02;       // normal(0, std) for weights
  double embedding_std = 0.02;  // normal(0, std) for token embeddings (T5: 1.0)
  uint64_t seed = 1;            // initialisation and dropout stream
  DType dtype = DType::F32;     // float64 for gradient checks
};

// The family's defining choices at a small default size (see models/config.cpp).
ModelConfig preset(Family family);

inline const char* family_name(Family family) {
  return enum_name(kFamilyNames, family);
}
// Throws std::invalid_argument listing the families.
inline Family family_from_name(std::string_view name) {
  return enum_from_name(kFamilyNames, name, "model family");
}

// The fields by name: checkpoints store them, `--set key=value` and the CLI
// shortcuts (--d-model) write them (e.g. "d_model" = "128", "norm" = "rmsnorm").
const FieldTable<ModelConfig>& model_config_fields();
std::map<std::string, std::string> config_to_map(const ModelConfig& config);
// Throws std::invalid_argument naming the key for unknown keys or bad values.
ModelConfig config_from_map(const std::map<std::string, std::string>& values);
// Applies one override on top of a config (same key names).
void set_config_field(ModelConfig& config, const std::string& key, const std::string& value);
// Throws std::invalid_argument naming the field for inconsistent values, and
// for sizes beyond what a CPU trains: each field has a bound (below), and the
// whole model at most kMaxModelParameters. A config read from a checkpoint or
// an option is checked before anything is allocated.
void validate(const ModelConfig& config);

// 2^30 parameters: 4 GiB of float32 weights, and about 16 GiB with their
// gradients and Adam's two moments.
inline constexpr int64_t kMaxModelParameters = int64_t(1) << 30;

// The bounds of the two sizes that the data sets (vocab_size with the
// special tokens, num_classes): the training data is refused beyond them.
inline constexpr int64_t kMaxVocabSize = int64_t(1) << 21;
inline constexpr int64_t kMaxNumClasses = int64_t(1) << 20;

// The model's parameter count from its shapes, without building it (exact:
// tests compare it with built models). Needs fields within validate()'s
// per-field bounds, which keep the arithmetic far from overflow.
int64_t parameter_count(const ModelConfig& config);

// The block settings a config implies.
BlockConfig block_config(const ModelConfig& config);

}  // namespace attnlab
