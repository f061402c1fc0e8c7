// Parameter count and FLOPs per token from a config alone (no model built),
// so a user can size a model before training it. Tests check both against
// the parameter tensors of real models.
#pragma once

#include "models/config.h"

namespace attnlab {

struct ModelStats {
  int64_t parameters = 0;
  // Forward FLOPs per token (multiply-add = 2), at sequence length T:
  double dense_flops = 0;      // products with weight matrices (incl. the LM head)
  double attention_flops = 0;  // QK^T scores and weights x V
  double forward_flops() const { return dense_flops + attention_flops; }
  double backward_flops() const { return 2 * forward_flops(); }  // dX and dW each cost a forward
  double training_flops() const { return 3 * forward_flops(); }
};

// Per token of a sequence of `seq_len` tokens. T5: per target token, with a
// source of the same length (encoder work counted per source token).
// Perceiver: per input token, the latent work spread over the input.
ModelStats model_stats(const ModelConfig& config, int64_t seq_len);

}  // namespace attnlab
