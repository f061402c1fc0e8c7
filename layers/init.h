// How fresh parameters are drawn: one seeded stream for a whole model, so
// the same seed builds the same model on any machine and thread count.
#pragma once

#include <memory>

#include "autograd/random.h"

namespace attnlab {

struct ParamInit {
  Generator gen;      // advanced by every parameter drawn
  double std = 0.02;  // normal(0, std) for weights (GPT-2/BERT convention)
  DType dtype = DType::F32;

  Tensor normal(const Shape& shape, double stddev) {
    return rand_normal(shape, gen, 0.0, stddev, dtype);
  }
  Tensor normal(const Shape& shape) { return normal(shape, std); }
  Tensor zeros(const Shape& shape) const { return Tensor::zeros(shape, dtype); }
  Tensor ones(const Shape& shape) const { return Tensor::full(shape, 1.0, dtype); }
};

// Dropout's random stream, shared by every Dropout of a model and saved in
// checkpoints (seed and offset are all there is to it).
using SharedGenerator = std::shared_ptr<Generator>;

}  // namespace attnlab
