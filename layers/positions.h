// The three ways a model learns where tokens are:
//  - LearnedPositions: a trained (max_len, C) table added to the embeddings
//    (BERT, GPT);
//  - SinusoidalPositions: the fixed sin/cos table of the original Transformer;
//  - RelativePositionBias: T5's per-head scalar bias on attention scores,
//    indexed by a log-spaced bucket of the key-query distance, computed once
//    per stack and shared by its layers.
#pragma once

#include "layers/init.h"
#include "layers/module.h"

namespace attnlab {

class LearnedPositions : public Module {
 public:
  LearnedPositions(int64_t max_len, int64_t dim, ParamInit& init, double stddev);
  // Rows [offset, offset+T) of the table: (T, C), broadcast over the batch.
  Tensor forward(int64_t length, int64_t offset = 0) const;
  // The rows of the given positions (S...) -> (S..., C), each checked.
  Tensor at(const IntTensor& positions) const;
  Tensor weight;  // (max_len, C)
};

class SinusoidalPositions : public Module {
 public:
  SinusoidalPositions(int64_t max_len, int64_t dim, DType dtype);
  Tensor forward(int64_t length, int64_t offset = 0) const;  // (T, C), a constant
  Tensor at(const IntTensor& positions) const;               // (S...) -> (S..., C)

 private:
  Tensor table_;  // (max_len, C), not a parameter
};

// Bucket of relative distance (key - query), T5's scheme: exact buckets for
// small distances, log-spaced up to max_distance, the last bucket beyond.
// Bidirectional buckets split the range between keys before and after.
int64_t relative_position_bucket(int64_t relative, bool bidirectional, int64_t num_buckets,
                                 int64_t max_distance);

class RelativePositionBias : public Module {
 public:
  RelativePositionBias(bool bidirectional, int64_t num_buckets, int64_t max_distance, int64_t heads,
                       ParamInit& init);
  // Additive score bias (1, H, Tq, Tk); queries sit at positions
  // [q_offset, q_offset+Tq), keys at [0, Tk).
  Tensor forward(int64_t tq, int64_t tk, int64_t q_offset = 0) const;
  Tensor weight;  // (num_buckets, H)

 private:
  bool bidirectional_;
  int64_t num_buckets_, max_distance_, heads_;
};

}  // namespace attnlab
