// The small layers: Linear, Embedding, Norm (LayerNorm or RMSNorm), Dropout
// and the position-wise FFN. Shape letters as in autograd/ops.h.
#pragma once

#include "common/enum_names.h"

#include "layers/init.h"
#include "layers/module.h"

namespace attnlab {

// y = x W^T + b with W stored (out, in), as nn.Linear.
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias, ParamInit& init);
  Tensor forward(const Tensor& x) const;  // x (..., in) -> (..., out)
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  Tensor weight, bias;  // (out, in), (out) or undefined

 private:
  int64_t in_, out_;
};

class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t dim, ParamInit& init, double stddev);
  Tensor forward(const IntTensor& ids) const;  // ids (S...) -> (S..., C)
  Tensor weight;                               // (V, C)
};

enum class NormKind { LayerNorm, RMSNorm };
inline constexpr EnumName<NormKind> kNormKindNames[] = {{NormKind::LayerNorm, "layernorm"},
                                                        {NormKind::RMSNorm, "rmsnorm"}};
inline const char* norm_kind_name(NormKind kind) {
  return enum_name(kNormKindNames, kind);
}

// LayerNorm (weight and bias) or RMSNorm (weight only, T5).
class Norm : public Module {
 public:
  Norm(int64_t dim, NormKind kind, double eps, ParamInit& init);
  Tensor forward(const Tensor& x) const;  // (..., C) -> (..., C)
  Tensor weight, bias;

 private:
  NormKind kind_;
  double eps_;
};

// Zeroes activations with probability p in training mode; identity in eval.
class Dropout : public Module {
 public:
  Dropout(double p, SharedGenerator rng);
  Tensor forward(const Tensor& x) const;
  // Whether forward changes anything now (training, with p > 0).
  bool active() const;
  double p() const { return p_; }
  // The stream the masks are drawn from, for ops that apply this dropout
  // inside their own kernels (flash_attention).
  Generator& generator() const { return *rng_; }

 private:
  double p_;
  SharedGenerator rng_;
};

// GELU is the exact erf form (PyTorch nn.GELU default, BERT); GELUTanh the
// tanh approximation (GPT-2).
enum class Activation { GELU, GELUTanh, ReLU };
inline constexpr EnumName<Activation> kActivationNames[] = {
    {Activation::GELU, "gelu"}, {Activation::GELUTanh, "gelu_tanh"}, {Activation::ReLU, "relu"}};
inline const char* activation_name(Activation a) {
  return enum_name(kActivationNames, a);
}

// Position-wise feed-forward: fc2(dropout(act(fc1(x)))), C -> F -> C.
class FeedForward : public Module {
 public:
  FeedForward(int64_t dim, int64_t hidden, Activation act, bool bias, double dropout,
              SharedGenerator rng, ParamInit& init);
  Tensor forward(const Tensor& x) const;  // (B,T,C) -> (B,T,C)

 private:
  Activation act_;
  std::shared_ptr<Linear> fc1_, fc2_;
  std::shared_ptr<Dropout> dropout_;
};

}  // namespace attnlab
