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
  Tensor forward(const Tensor& x, const Mask* padding, const Tensor* memory = nullptr,
                 const Mask* memory_padding = nullptr,
                 std::vector<BlockAttention>* attention = nullptr) const;

 private:
  std::shared_ptr<ModuleList<TransformerBlock>> layers_;
  std::shared_ptr<RelativePositionBias> relative_bias_;
  std::shared_ptr<Norm> final_norm_;
};

// Checks ids (B,T) and an optional padding mask (B,T); names `where`.
void check_ids(const std::string& where, const char* what, const IntTensor& ids,
               const Mask* padding);

}  // namespace attnlab
