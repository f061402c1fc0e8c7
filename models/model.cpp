#include "models/model.h"

#include <cstring>

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
Tensor Model::decode_prefix(const IntTensor&, const Mask*, const std::vector<int64_t>&,
                            std::vector<BlockAttention>*) const {
  unsupported(*this, "decode_prefix", "only a decoder-only model built with prefix_lm has one");
}
namespace {
// Rows of t (B, ...) in the given order: (rows.size(), ...).
Tensor take_rows(const Tensor& t, const std::vector<int64_t>& rows) {
  if (!t.defined()) return t;
  Shape shape = t.shape();
  const size_t row_bytes = size_t(t.numel() / shape[0]) * dtype_size(t.dtype());
  shape[0] = int64_t(rows.size());
  Tensor out = Tensor::empty(shape, t.dtype());
  for (size_t i = 0; i < rows.size(); ++i)
    std::memcpy(static_cast<uint8_t*>(out.raw_data()) + i * row_bytes,
                static_cast<const uint8_t*>(t.raw_data()) + size_t(rows[i]) * row_bytes, row_bytes);
  return out;
}
}  // namespace

void DecodeCache::keep_rows(const std::vector<int64_t>& rows) {
  for (BlockCache& block : blocks)
    for (KVCache* kv : {&block.self, &block.cross}) {
      kv->keys = take_rows(kv->keys, rows);
      kv->values = take_rows(kv->values, rows);
    }
  if (!memory_padding.blocked.empty()) {
    const int64_t width = memory_padding.shape[1];
    Mask kept{{int64_t(rows.size()), width}, {}};
    for (int64_t r : rows)
      kept.blocked.insert(kept.blocked.end(), memory_padding.blocked.begin() + r * width,
                          memory_padding.blocked.begin() + (r + 1) * width);
    memory_padding = std::move(kept);
  }
  if (!prefix.empty()) {
    std::vector<int64_t> kept;
    for (int64_t r : rows) kept.push_back(prefix[size_t(r)]);
    prefix = std::move(kept);
  }
}

DecodeCache Model::start_decoding(int64_t, int64_t, const Tensor*, const Mask*) const {
  unsupported(*this, "start_decoding", "only GPT and T5 generate");
}
Tensor Model::decode_cached(const IntTensor&, const std::vector<int64_t>&, DecodeCache&) const {
  unsupported(*this, "decode_cached", "only GPT and T5 generate");
}

namespace {

// (1,H,Tq,Tk) or (1,T,C) of a batch of one -> without the batch dim.
Tensor first_row(const Tensor& t) {
  Shape s(t.shape().begin() + 1, t.shape().end());
  return reshape(t.clone(), s);
}

}  // namespace

void add_traced_stack(Trace& trace, const std::string& stack,
                      std::span<const BlockAttention> blocks, const char* self_kind,
                      const std::string& axis, const std::string& memory_axis) {
  for (size_t i = 0; i < blocks.size(); ++i) {
    const std::string layer = fmt::format("{}/layers/{}", stack, i);
    if (blocks[i].self_weights.defined())
      trace.maps.push_back(
          {layer + "/self_attn", self_kind, axis, axis, first_row(blocks[i].self_weights)});
    if (blocks[i].cross_weights.defined())
      trace.maps.push_back(
          {layer + "/cross_attn", "cross", axis, memory_axis, first_row(blocks[i].cross_weights)});
    if (blocks[i].output.defined())
      trace.states.push_back({layer, axis, first_row(blocks[i].output)});
  }
}

void add_traced_block(Trace& trace, const std::string& name, const BlockAttention& block,
                      const char* cross_kind, const std::string& axis,
                      const std::string& memory_axis) {
  trace.maps.push_back(
      {name + "/cross_attn", cross_kind, axis, memory_axis, first_row(block.cross_weights)});
  trace.states.push_back({name + "/cross_step", axis, first_row(block.output)});
}

void Model::name_attention(Forward forward, const std::vector<BlockAttention>& attention,
                           const std::string& axis, const std::string& memory_axis,
                           Trace& trace) const {
  // A prefix LM reads its prefix (in a trace, the whole input) both ways.
  if (forward == Forward::Decode)
    add_traced_stack(trace, "decoder", attention,
                     config().prefix_lm ? "prefix self" : "causal self", axis, memory_axis);
  else
    add_traced_stack(trace, "encoder", attention, "bidirectional self", axis, "");
}

Tensor Model::lens_logits(const Tensor&) const {
  unsupported(*this, "lens_logits",
              "the logit lens reads a decoder's blocks (GPT and T5 have one)");
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

Architecture architecture_of(Family family) {
  switch (family) {
    case Family::BERT:
    case Family::Perceiver:
      return Architecture::Classifier;
    case Family::GPT:
      return Architecture::DecoderOnly;
    case Family::T5:
      return Architecture::EncoderDecoder;
  }
  return Architecture::Classifier;
}

TextObjective text_objective(Family family) {
  switch (family) {
    case Family::BERT:
      return TextObjective::MaskedLM;
    case Family::GPT:
      return TextObjective::CausalLM;
    case Family::T5:
      return TextObjective::SpanCorruption;
    case Family::Perceiver:
      break;
  }
  return TextObjective::None;
}

}  // namespace attnlab
