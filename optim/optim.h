// Optimizers (SGD with momentum, Adam, AdamW), learning-rate schedules and
// global-norm gradient clipping. PyTorch's update rules, so hyperparameters
// carry over.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "autograd/tensor.h"
#include "common/enum_names.h"

namespace attnlab {

enum class OptimizerKind { SGD, Adam, AdamW };
inline constexpr EnumName<OptimizerKind> kOptimizerNames[] = {
    {OptimizerKind::SGD, "sgd"}, {OptimizerKind::Adam, "adam"}, {OptimizerKind::AdamW, "adamw"}};
inline const char* optimizer_name(OptimizerKind kind) {
  return enum_name(kOptimizerNames, kind);
}

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::AdamW;
  double momentum = 0.9;  // SGD
  double beta1 = 0.9;     // Adam(W)
  double beta2 = 0.98;    // 0.98 rather than 0.999: steadier for short transformer runs
  double eps = 1e-9;
  double weight_decay = 0.01;  // AdamW: decoupled; SGD/Adam: added to the gradient (L2)
};

// Weight decay applies to weight matrices only, keyed by parameter name: not
// to biases, norms, embeddings, position tables or latent queries.
bool decays(const std::string& parameter_name);

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Optimizer {
 public:
  Optimizer(NamedTensors params, OptimizerConfig config);
  // One update with learning rate lr from each parameter's .grad (a missing
  // grad counts as zero).
  void step(double lr);
  void zero_grad();
  int64_t steps() const { return steps_; }
  const OptimizerConfig& config() const { return config_; }
  const NamedTensors& params() const { return params_; }
  // State for checkpoints: "<slot>/<parameter name>" tensors plus the step
  // count. load_state checks every name and shape.
  NamedTensors state() const;
  void load_state(const NamedTensors& state, int64_t steps);

 private:
  NamedTensors params_;
  OptimizerConfig config_;
  std::vector<Tensor> slot1_, slot2_;  // momentum buffer / Adam m, and Adam v
  std::vector<bool> decay_;
  int64_t steps_ = 0;
};

enum class ScheduleKind { Constant, WarmupCosine, InverseSqrt };
inline constexpr EnumName<ScheduleKind> kScheduleNames[] = {{ScheduleKind::Constant, "constant"},
                                                            {ScheduleKind::WarmupCosine, "cosine"},
                                                            {ScheduleKind::InverseSqrt, "noam"}};
inline const char* schedule_name(ScheduleKind kind) {
  return enum_name(kScheduleNames, kind);
}

// Learning rate at `step` (1-based), peaking at `peak` after `warmup` linear
// warmup steps: constant after it; cosine decay to min_ratio*peak at `total`;
// or inverse square root (Noam: peak * sqrt(warmup / step)).
double schedule_lr(ScheduleKind kind, double peak, int64_t step, int64_t warmup, int64_t total,
                   double min_ratio = 0.0);

// Global L2 norm of all gradients; if above max_norm (> 0) scales them to it.
// Returns the norm before clipping (NaN/inf if any gradient is not finite).
double clip_grad_norm(const NamedTensors& params, double max_norm);

}  // namespace attnlab
