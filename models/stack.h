// The pieces every model family shares: turning token ids into vectors
// (InputEmbedding) and a stack of blocks with its relative position bias and
// final norm (TransformerStack).
#pragma once

#include <vector>

#include "layers/block.h"
#include "layers/positions.h"
#include "models/config.h"

namespace attnlab {

// token embedding (owned by the model, possibly shared) + absolute positions
// (learned or sinusoidal, per the config) [+ LayerNorm] + dropout.
class InputEmbedding : public Module {
 public:
  InputEmbedding(const ModelConfig& config, std::shared_ptr<Embedding> tokens, SharedGenerator rng,
                 ParamInit& init);
  Tensor forward(const IntTensor& ids) const;  // ids (B,T) -> (B,T,C)
  // Decoding: ids (B,Tn) whose row b starts at position start[b] -> (B,Tn,C).
  Tensor forward_at(const IntTensor& ids, const std::vector<int64_t>& start) const;

 private:
  std::shared_ptr<Embedding> tokens_;  // not registered here: the model owns it
  std::shared_ptr<LearnedPositions> learned_;
  std::shared_ptr<SinusoidalPositions> sinusoidal_;
  std::shared_ptr<Norm> norm_;
  std::shared_ptr<Dropout> dropout_;
};

class TransformerStack : public Module {
 public:
  // Relative position bias is added when config.positions == Relative:
  // bidirectional for Encoder blocks, one-directional otherwise.
  TransformerStack(BlockKind kind, int64_t n_layers, const ModelConfig& config, SharedGenerator rng,
                   ParamInit& init);
  // x (B,T,C) -> (B,T,C). padding (B,T); memory (B,Tm,C) and memory_padding
  // (B,Tm) for encoder-decoder blocks. `attention` receives one entry per block.
  // `prefix` (B): a prefix LM's prefix lengths (AttentionMasks::prefix).
  Tensor forward(const Tensor& x, const Mask* padding, const Tensor* memory = nullptr,
                 const Mask* memory_padding = nullptr,
                 std::vector<BlockAttention>* attention = nullptr,
                 const std::vector<int64_t>* prefix = nullptr) const;

  // The stack's final norm (identity without one) of a hidden state
  // (..., C): what forward() applies after the last block.
  Tensor finish(const Tensor& h) const;

  // Decoding (see KVCache in layers/attention.h): one cache per block, for
  // `batch` rows of up to `capacity` tokens; memory (B,Tm,C) for
  // encoder-decoder blocks, whose cross keys and values are computed here once.
  std::vector<BlockCache> start_cache(int64_t batch, int64_t capacity, DType dtype,
                                      const Tensor* memory) const;
  // New tokens x (B,Tn,C), row b's at positions start[b].. -> (B,Tn,C):
  // forward() of the whole prefix, at the new positions only.
  Tensor forward_cached(const Tensor& x, std::vector<BlockCache>& cache,
                        const std::vector<int64_t>& start, const Mask* memory_padding,
                        const std::vector<int64_t>* prefix = nullptr) const;

 private:
  std::shared_ptr<ModuleList<TransformerBlock>> layers_;
  std::shared_ptr<RelativePositionBias> relative_bias_;
  std::shared_ptr<Norm> final_norm_;
};

// Checks ids (B,T) and an optional padding mask (B,T); names `where`.
void check_ids(const std::string& where, const char* what, const IntTensor& ids,
               const Mask* padding);

}  // namespace attnlab
