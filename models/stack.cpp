#include "models/stack.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace attnlab {

void check_ids(const std::string& where, const char* what, const IntTensor& ids,
               const Mask* padding) {
  if (ids.shape.size() != 2 || int64_t(ids.data.size()) != shape_numel(ids.shape))
    throw std::invalid_argument(
        fmt::format("{}: {} must be (B,T) with B*T values, got shape {} with {} values", where,
                    what, shape_str(ids.shape), ids.data.size()));
  if (padding && (padding->shape != ids.shape || padding->blocked.size() != ids.data.size()))
    throw std::invalid_argument(fmt::format("{}: padding mask {} does not match {} {}", where,
                                            shape_str(padding->shape), what, shape_str(ids.shape)));
}

InputEmbedding::InputEmbedding(const ModelConfig& c, std::shared_ptr<Embedding> tokens,
                               SharedGenerator rng, ParamInit& init)
    : tokens_(std::move(tokens)) {
  if (c.positions == PositionScheme::Learned)
    learned_ = register_module(
        "position", std::make_shared<LearnedPositions>(c.max_len, c.d_model, init, c.init_std));
  if (c.positions == PositionScheme::Sinusoidal)
    sinusoidal_ = register_module(
        "position", std::make_shared<SinusoidalPositions>(c.max_len, c.d_model, c.dtype));
  if (c.embedding_norm)
    norm_ = register_module(
        "norm", std::make_shared<Norm>(c.d_model, NormKind::LayerNorm, c.norm_eps, init));
  dropout_ = register_module("dropout", std::make_shared<Dropout>(c.dropout, rng));
}

Tensor InputEmbedding::forward(const IntTensor& ids) const {
  const int64_t t = ids.shape.at(1);
  Tensor x = tokens_->forward(ids);                // (B,T,C)
  if (learned_) x = add(x, learned_->forward(t));  // + (T,C)
  if (sinusoidal_) x = add(x, sinusoidal_->forward(t));
  if (norm_) x = norm_->forward(x);
  return dropout_->forward(x);
}

Tensor InputEmbedding::forward_at(const IntTensor& ids, const std::vector<int64_t>& start) const {
  const int64_t b = ids.shape.at(0), tn = ids.shape.at(1);
  IntTensor positions{{b, tn}, std::vector<int32_t>(size_t(b * tn))};
  for (int64_t i = 0; i < b; ++i)
    for (int64_t t = 0; t < tn; ++t) positions.data[i * tn + t] = int32_t(start[i] + t);
  Tensor x = tokens_->forward(ids);                   // (B,Tn,C)
  if (learned_) x = add(x, learned_->at(positions));  // + (B,Tn,C)
  if (sinusoidal_) x = add(x, sinusoidal_->at(positions));
  if (norm_) x = norm_->forward(x);
  return dropout_->forward(x);
}

TransformerStack::TransformerStack(BlockKind kind, int64_t n_layers, const ModelConfig& c,
                                   SharedGenerator rng, ParamInit& init) {
  layers_ = register_module("layers", std::make_shared<ModuleList<TransformerBlock>>());
  BlockConfig bc = block_config(c);
  for (int64_t i = 0; i < n_layers; ++i)
    layers_->push_back(std::make_shared<TransformerBlock>(kind, bc, rng, init));
  if (c.positions == PositionScheme::Relative)
    relative_bias_ = register_module(
        "relative_bias",
        std::make_shared<RelativePositionBias>(kind == BlockKind::Encoder, c.relative_buckets,
                                               c.relative_max_distance, c.n_heads, init));
  if (c.final_norm)
    final_norm_ =
        register_module("final_norm", std::make_shared<Norm>(c.d_model, c.norm, c.norm_eps, init));
}

Tensor TransformerStack::forward(const Tensor& x, const Mask* padding, const Tensor* memory,
                                 const Mask* memory_padding, std::vector<BlockAttention>* attention,
                                 const std::vector<int64_t>* prefix) const {
  if (x.dim() != 3)
    throw std::invalid_argument(
        fmt::format("{}: expected (B,T,C), got {}", where(), shape_str(x.shape())));
  // Computed once per stack and shared by every layer (as in T5).
  Tensor bias;
  if (relative_bias_) bias = relative_bias_->forward(x.size(1), x.size(1));  // (1,H,T,T)
  BlockInputs in{padding, bias.defined() ? &bias : nullptr, memory, memory_padding, prefix};
  Tensor h = x;
  if (attention) attention->assign(layers_->size(), BlockAttention{});
  for (size_t i = 0; i < layers_->size(); ++i) {
    h = (*layers_)[i].forward(h, in, attention ? &(*attention)[i] : nullptr);
    if (attention) (*attention)[i].output = h.detach();
  }
  return finish(h);
}

Tensor TransformerStack::finish(const Tensor& h) const {
  return final_norm_ ? final_norm_->forward(h) : h;
}

std::vector<BlockCache> TransformerStack::start_cache(int64_t batch, int64_t capacity, DType dtype,
                                                      const Tensor* memory) const {
  std::vector<BlockCache> cache;
  for (size_t i = 0; i < layers_->size(); ++i)
    cache.push_back((*layers_)[i].start_cache(batch, capacity, dtype, memory));
  return cache;
}

Tensor TransformerStack::forward_cached(const Tensor& x, std::vector<BlockCache>& cache,
                                        const std::vector<int64_t>& start,
                                        const Mask* memory_padding,
                                        const std::vector<int64_t>* prefix) const {
  if (cache.size() != layers_->size())
    throw std::invalid_argument(fmt::format("{}: a cache for {} blocks, the stack has {}", where(),
                                            cache.size(), layers_->size()));
  const int64_t b = x.size(0), tn = x.size(1);
  // The relative bias of the new queries against every visible key; rows at
  // different positions get their own.
  Tensor bias;
  if (relative_bias_) {
    const int64_t tk = *std::max_element(start.begin(), start.end()) + tn;
    const bool same =
        std::all_of(start.begin(), start.end(), [&](int64_t s) { return s == start[0]; });
    if (same) {
      bias = relative_bias_->forward(tn, tk, start[0]);  // (1,H,Tn,Tk)
    } else {
      std::vector<Tensor> rows;
      for (int64_t i = 0; i < b; ++i) rows.push_back(relative_bias_->forward(tn, tk, start[i]));
      bias = concat(rows, 0);  // (B,H,Tn,Tk)
    }
  }
  Tensor h = x;
  for (size_t i = 0; i < layers_->size(); ++i)
    h = (*layers_)[i].forward_cached(h, cache[i], start, bias.defined() ? &bias : nullptr,
                                     memory_padding, prefix);
  return finish(h);
}

}  // namespace attnlab
