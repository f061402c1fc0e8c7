#include "layers/basic.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace attnlab {

// ---- Linear --------------------------------------------------------------------

Linear::Linear(int64_t in_features, int64_t out_features, bool has_bias, ParamInit& init)
    : in_(in_features), out_(out_features) {
  weight = register_parameter("weight", init.normal({out_features, in_features}));
  if (has_bias) bias = register_parameter("bias", init.zeros({out_features}));
}

Tensor Linear::forward(const Tensor& x) const {
  if (x.dim() < 1 || x.size(-1) != in_)
    throw std::invalid_argument(
        fmt::format("{}: expected input (..., {}), got {}", where(), in_, shape_str(x.shape())));
  return linear(x, weight, bias);
}

// ---- Embedding -----------------------------------------------------------------

Embedding::Embedding(int64_t num_embeddings, int64_t dim, ParamInit& init, double stddev) {
  weight = register_parameter("weight", init.normal({num_embeddings, dim}, stddev));
}

Tensor Embedding::forward(const IntTensor& ids) const {
  try {
    return embedding(weight, ids);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(fmt::format("{}: {}", where(), e.what()));
  }
}

// ---- Norm ----------------------------------------------------------------------

Norm::Norm(int64_t dim, NormKind kind, double eps, ParamInit& init) : kind_(kind), eps_(eps) {
  weight = register_parameter("weight", init.ones({dim}));
  if (kind == NormKind::LayerNorm) bias = register_parameter("bias", init.zeros({dim}));
}

Tensor Norm::forward(const Tensor& x) const {
  if (x.dim() < 1 || x.size(-1) != weight.size(0))
    throw std::invalid_argument(fmt::format("{}: expected input (..., {}), got {}", where(),
                                            weight.size(0), shape_str(x.shape())));
  return kind_ == NormKind::LayerNorm ? layer_norm(x, weight, bias, eps_)
                                      : rms_norm(x, weight, eps_);
}

// ---- Dropout -------------------------------------------------------------------

Dropout::Dropout(double p, SharedGenerator rng) : p_(p), rng_(std::move(rng)) {
  if (!(p >= 0 && p < 1))
    throw std::invalid_argument(fmt::format("Dropout: p must be in [0, 1), got {}", p));
  if (p > 0 && !rng_) throw std::invalid_argument("Dropout: p > 0 needs a random generator");
}

bool Dropout::active() const {
  return is_training() && p_ > 0;
}

Tensor Dropout::forward(const Tensor& x) const {
  if (!active()) return x;
  return dropout(x, p_, *rng_, true);
}

// ---- FeedForward ---------------------------------------------------------------

FeedForward::FeedForward(int64_t dim, int64_t hidden, Activation act, bool bias, double p,
                         SharedGenerator rng, ParamInit& init)
    : act_(act) {
  fc1_ = register_module("fc1", std::make_shared<Linear>(dim, hidden, bias, init));
  fc2_ = register_module("fc2", std::make_shared<Linear>(hidden, dim, bias, init));
  dropout_ = register_module("dropout", std::make_shared<Dropout>(p, rng));
}

Tensor FeedForward::forward(const Tensor& x) const {
  Tensor h = fc1_->forward(x);  // (B,T,F)
  switch (act_) {
    case Activation::GELU:
      h = gelu(h, GeluApprox::Erf);
      break;
    case Activation::GELUTanh:
      h = gelu(h, GeluApprox::Tanh);
      break;
    case Activation::ReLU:
      h = relu(h);
      break;
  }
  return fc2_->forward(dropout_->forward(h));  // (B,T,C)
}

}  // namespace attnlab
