#include "layers/attention.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <stdexcept>

namespace attnlab {

namespace {

// The union of the key padding mask and the causal mask, shaped to
// broadcast over scores (B,H,Tq,Tk).
Mask combined_mask(const AttentionMasks& masks, int64_t b, int64_t tq, int64_t tk) {
  if (masks.key_padding && !masks.causal) {
    Mask m = *masks.key_padding;
    m.shape = {b, 1, 1, tk};  // broadcast over heads and queries
    return m;
  }
  Mask causal = causal_mask(tq, tk);
  if (!masks.key_padding) return causal;  // (Tq,Tk) broadcasts over B and H
  Mask m{{b, 1, tq, tk}, std::vector<uint8_t>(b * tq * tk)};
  for (int64_t i = 0; i < b; ++i)
    for (int64_t r = 0; r < tq; ++r)
      for (int64_t c = 0; c < tk; ++c)
        m.blocked[(i * tq + r) * tk + c] =
            causal.blocked[r * tk + c] | masks.key_padding->blocked[i * tk + c];
  return m;
}

}  // namespace

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const AttentionMasks& masks, double scale,
                                    const Dropout* dropout, Tensor* weights,
                                    const std::string& where) {
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4 || k.shape() != v.shape() ||
      q.size(0) != k.size(0) || q.size(1) != k.size(1) || q.size(3) != k.size(3))
    throw std::invalid_argument(
        fmt::format("{}: expected q (B,H,Tq,D) and k, v (B,H,Tk,D), got q {}, k {}, v {}", where,
                    shape_str(q.shape()), shape_str(k.shape()), shape_str(v.shape())));
  const int64_t b = q.size(0), h = q.size(1), tq = q.size(2), tk = k.size(2);
  if (masks.key_padding) {
    const Mask& pad = *masks.key_padding;
    if (pad.shape != Shape{b, tk} || int64_t(pad.blocked.size()) != b * tk)
      throw std::invalid_argument(
          fmt::format("{}: key padding mask {} does not match the keys: expected (B={}, Tk={})",
                      where, shape_str(pad.shape), b, tk));
  }
  if (masks.causal && tk < tq)
    throw std::invalid_argument(
        fmt::format("{}: causal attention needs at least as many keys as queries, got Tq={} Tk={}",
                    where, tq, tk));
  Tensor scores = matmul(q, k, false, true);  // (B,H,Tq,Tk)
  if (scale != 1.0) scores = mul_scalar(scores, scale);
  if (masks.score_bias) {
    const Tensor& bias = *masks.score_bias;
    if (bias.dim() != 4 || (bias.size(0) != 1 && bias.size(0) != b) || bias.size(1) != h ||
        bias.size(2) != tq || bias.size(3) != tk)
      throw std::invalid_argument(
          fmt::format("{}: score bias {} does not match scores (B={},H={},Tq={},Tk={})", where,
                      shape_str(bias.shape()), b, h, tq, tk));
    scores = add(scores, bias);
  }
  if (masks.key_padding || masks.causal)
    scores = masked_fill(scores, combined_mask(masks, b, tq, tk),
                         -std::numeric_limits<double>::infinity());
  Tensor probs = softmax(scores);  // (B,H,Tq,Tk); blocked entries exactly 0
  if (weights) *weights = probs;
  if (dropout) probs = dropout->forward(probs);
  return matmul(probs, v);  // (B,H,Tq,D)
}

MultiHeadAttention::MultiHeadAttention(int64_t dim, int64_t heads, bool bias, bool scale_scores,
                                       double dropout, SharedGenerator rng, ParamInit& init)
    : dim_(dim), heads_(heads), scale_scores_(scale_scores) {
  if (heads <= 0 || dim % heads != 0)
    throw std::invalid_argument(
        fmt::format("MultiHeadAttention: d_model {} is not divisible by {} heads", dim, heads));
  q_proj_ = register_module("q_proj", std::make_shared<Linear>(dim, dim, bias, init));
  k_proj_ = register_module("k_proj", std::make_shared<Linear>(dim, dim, bias, init));
  v_proj_ = register_module("v_proj", std::make_shared<Linear>(dim, dim, bias, init));
  out_proj_ = register_module("out_proj", std::make_shared<Linear>(dim, dim, bias, init));
  attn_dropout_ = register_module("attn_dropout", std::make_shared<Dropout>(dropout, rng));
}

Tensor MultiHeadAttention::forward(const Tensor& query_input, const Tensor& kv_input,
                                   const AttentionMasks& masks, Tensor* weights) const {
  if (query_input.dim() != 3 || query_input.size(2) != dim_)
    throw std::invalid_argument(fmt::format("{}: expected queries (B,Tq,{}), got {}", where(), dim_,
                                            shape_str(query_input.shape())));
  if (kv_input.dim() != 3 || kv_input.size(2) != dim_ || kv_input.size(0) != query_input.size(0))
    throw std::invalid_argument(fmt::format(
        "{}: expected keys/values (B={},Tk,{}) to match the queries {}, got {}", where(),
        query_input.size(0), dim_, shape_str(query_input.shape()), shape_str(kv_input.shape())));

  Tensor q = split_heads(q_proj_->forward(query_input), heads_);  // (B,H,Tq,D)
  Tensor k = split_heads(k_proj_->forward(kv_input), heads_);     // (B,H,Tk,D)
  Tensor v = split_heads(v_proj_->forward(kv_input), heads_);     // (B,H,Tk,D)
  const double scale = scale_scores_ ? 1.0 / std::sqrt(double(dim_ / heads_)) : 1.0;
  Tensor out = scaled_dot_product_attention(q, k, v, masks, scale, attn_dropout_.get(), weights,
                                            where());  // (B,H,Tq,D)
  return out_proj_->forward(merge_heads(out));         // (B,Tq,C)
}

}  // namespace attnlab
