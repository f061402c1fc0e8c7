// The families side by side before any training (`attnlab describe`):
// where each attention lives and what it masks, parameters per component,
// FLOPs, activation memory and KV-cache bytes per token (formulas in
// models/stats.cpp, held to the built models by tests), how they grow with
// sequence length, and optionally the same quantities measured.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/config.h"

namespace attnlab::study {

// Each block's attentions: queries <- keys/values, score shape, mask; Markdown.
std::string layout_table(const ModelConfig& config, int64_t seq, int64_t batch);

// The models side by side per token at length `seq`: parameters by
// component, FLOPs, activations, KV cache; one column per model; Markdown.
std::string cost_table(const std::vector<ModelConfig>& configs, int64_t seq, int64_t batch);

// A forward and backward pass of a model, measured.
struct Measured {
  double milliseconds = 0;  // forward + backward, median of the repeats
  int64_t graph_bytes = 0;  // the forward graph, counted
  int64_t peak_bytes = 0;   // live tensor memory above the model's own, at its peak
};
Measured measure(const ModelConfig& config, int64_t batch, int64_t seq, int repeats);

// How FLOPs and activation memory grow with sequence length, one row per
// model and length; with `measured`, also measure() at each (slow); Markdown.
std::string scaling_table(const std::vector<ModelConfig>& configs,
                          const std::vector<int64_t>& lengths, int64_t batch, bool measured,
                          int repeats);

}  // namespace attnlab::study
