// Multi-head attention: ONE routine for the three routings of the transformer families.
//
//   routing                     queries from   keys/values from   mask
//   bidirectional self (BERT)   x              x                  key padding
//   causal self (GPT, T5 dec)   x              x                  causal (+ padding)
//   cross (T5 dec, Perceiver)   decoder x      encoder output     encoder padding
//
// Only where K/V come from and which mask applies differ; the arithmetic is
// the same scaled dot-product attention.
//
// Mask convention (see autograd/ops.h): a key padding mask is (B, Tk) with 1
// where the key is PADDING; causal is a flag.
#pragma once

#include "layers/basic.h"

namespace attnlab {

struct AttentionMasks {
  const Mask* key_padding = nullptr;   // (B, Tk), 1 = padding key
  bool causal = false;                 // query i sees keys up to its own position
  const Tensor* score_bias = nullptr;  // additive (1 or B, H, Tq, Tk), e.g. T5 relative bias
};

// Scaled dot-product attention.
//   q (B,H,Tq,D), k (B,H,Tk,D), v (B,H,Tk,D) -> (B,H,Tq,D)
// `weights`, if given, receives softmax probabilities (B,H,Tq,Tk) (before
// dropout). Blocked positions get exactly 0 weight; a query whose keys are
// all blocked gets an all-zero row and a zero output.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionMasks& masks, double scale,
                                    const Dropout* dropout = nullptr, Tensor* weights = nullptr,
                                    const std::string& where = "attention");

class MultiHeadAttention : public Module {
 public:
  // scale_scores: divide scores by sqrt(D). Original T5 does not (it folds
  // the scale into its initialisation); see the T5 preset in models/config.cpp.
  MultiHeadAttention(int64_t dim, int64_t heads, bool bias, bool scale_scores, double dropout,
                     SharedGenerator rng, ParamInit& init);

  // query_input (B,Tq,C); kv_input (B,Tk,C): the same tensor for
  // self-attention, the encoder output for cross-attention -> (B,Tq,C).
  Tensor forward(const Tensor& query_input, const Tensor& kv_input, const AttentionMasks& masks,
                 Tensor* weights = nullptr) const;

  int64_t heads() const { return heads_; }

 private:
  int64_t dim_, heads_;
  bool scale_scores_;
  std::shared_ptr<Linear> q_proj_, k_proj_, v_proj_, out_proj_;
  std::shared_ptr<Dropout> attn_dropout_;
};

}  // namespace attnlab
