#include "layers/attention.h"

#include "autograd/parallel.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace attnlab {

Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    int64_t heads, const AttentionMasks& masks, double scale,
                                    const Dropout* dropout, Tensor* weights,
                                    const std::string& where) {
  if (q.dim() != 3 || k.dim() != 3 || k.shape() != v.shape() || q.size(0) != k.size(0) ||
      q.size(2) != k.size(2) || heads <= 0 || q.size(2) % heads != 0)
    throw std::invalid_argument(fmt::format(
        "{}: expected q (B,Tq,H*D) and k, v (B,Tk,H*D) with H={}, got q {}, k {}, v {}", where,
        heads, shape_str(q.shape()), shape_str(k.shape()), shape_str(v.shape())));
  const int64_t b = q.size(0), h = heads, tq = q.size(1), tk = k.size(1);
  if (masks.key_padding) {
    const Mask& pad = *masks.key_padding;
    if (pad.shape != Shape{b, tk} || int64_t(pad.blocked.size()) != b * tk)
      throw std::invalid_argument(
          fmt::format("{}: key padding mask {} does not match the keys: expected (B={}, Tk={})",
                      where, shape_str(pad.shape), b, tk));
  }
  if (masks.prefix && (!masks.causal || int64_t(masks.prefix->size()) != b || tq != tk))
    throw std::invalid_argument(fmt::format(
        "{}: a prefix LM's prefix lengths are for causal self-attention, one per row: got {} "
        "for B={}, Tq={}, Tk={}{}",
        where, masks.prefix->size(), b, tq, tk, masks.causal ? "" : ", not causal"));
  if (masks.causal && tk < tq)
    throw std::invalid_argument(
        fmt::format("{}: causal attention needs at least as many keys as queries, got Tq={} Tk={}",
                    where, tq, tk));
  Tensor bias;
  if (masks.score_bias) {
    bias = *masks.score_bias;
    if (bias.dim() != 4 || (bias.size(0) != 1 && bias.size(0) != b) || bias.size(1) != h ||
        bias.size(2) != tq || bias.size(3) != tk)
      throw std::invalid_argument(
          fmt::format("{}: score bias {} does not match scores (B={},H={},Tq={},Tk={})", where,
                      shape_str(bias.shape()), b, h, tq, tk));
  }
  KeyMask visible;
  visible.causal = masks.causal;
  if (masks.prefix) visible.prefix = *masks.prefix;
  if (masks.key_padding) visible.key_padding = masks.key_padding->blocked;
  // Unless the weights are asked for, they are never stored; dropout on
  // them draws the same mask either way.
  const bool drop = dropout && dropout->active();
  if (!weights)
    return flash_attention(q, k, v, heads, scale, bias, visible, drop ? dropout->p() : 0.0,
                           drop ? &dropout->generator() : nullptr);  // (B,Tq,H*D)
  const Mask mask = visible.dense(b, tq, tk);
  // (B,H,Tq,Tk); blocked entries exactly 0
  Tensor probs =
      attention_weights(q, k, scale, bias, mask.blocked.empty() ? nullptr : &mask, heads);
  *weights = probs;
  if (drop) probs = dropout->forward(probs);
  return attention_values(probs, v, heads);  // (B,Tq,H*D)
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

  Tensor q = q_proj_->forward(query_input);  // (B,Tq,C)
  Tensor k = k_proj_->forward(kv_input);     // (B,Tk,C)
  Tensor v = v_proj_->forward(kv_input);     // (B,Tk,C)
  Tensor out = scaled_dot_product_attention(q, k, v, heads_, masks, score_scale(),
                                            attn_dropout_.get(), weights, where());  // (B,Tq,C)
  return project(out);                                                               // (B,Tq,C)
}

void MultiHeadAttention::set_ablation(std::optional<HeadAblation> ablation) {
  if (ablation) {
    for (const int64_t h : ablation->heads)
      if (h < 0 || h >= heads_)
        throw std::invalid_argument(
            fmt::format("{}: head {} does not exist (it has heads 0..{})", where(), h, heads_ - 1));
    if (!ablation->fill.empty() && int64_t(ablation->fill.size()) != dim_)
      throw std::invalid_argument(fmt::format("{}: a mean-ablation fill has {} values, not {}",
                                              where(), ablation->fill.size(), dim_));
  }
  ablation_ = std::move(ablation);
}

Tensor MultiHeadAttention::project(const Tensor& given) const {  // given (B,T,C)
  const Tensor merged = merged_hook_ ? merged_hook_(given) : given;
  if (recorder_) {
    HeadOutputSums& r = *recorder_;
    r.sum.resize(size_t(dim_), 0.0);
    const std::vector<double> values = merged.to_vector();
    for (size_t i = 0; i < values.size(); ++i) r.sum[i % size_t(dim_)] += values[i];
    r.positions += merged.numel() / dim_;
  }
  if (!ablation_) return out_proj_->forward(merged);
  std::vector<double> keep(size_t(dim_), 1.0), fill(size_t(dim_), 0.0);
  const int64_t d = dim_ / heads_;
  for (const int64_t h : ablation_->heads)
    for (int64_t c = h * d; c < (h + 1) * d; ++c) {
      keep[size_t(c)] = 0.0;
      if (!ablation_->fill.empty()) fill[size_t(c)] = ablation_->fill[size_t(c)];
    }
  const Tensor k = Tensor::from_vector(keep, {dim_}, merged.dtype());  // (C)
  const Tensor f = Tensor::from_vector(fill, {dim_}, merged.dtype());  // (C)
  return out_proj_->forward(add(mul(merged, k), f));                   // (B,T,C)
}

}  // namespace attnlab

// ---- decoding with a cache -----------------------------------------------------

namespace attnlab {

namespace {

// One query row against the visible cached keys: softmax(q.K^T * scale +
// bias) V, written to out[0..D). Blocked keys get exactly 0 weight; with no
// visible key the output is 0, as in scaled_dot_product_attention.
template <typename T>
void attend_one(T* out, const T* q, const T* keys, const T* values, int64_t visible, int64_t d,
                double scale, const T* bias, const uint8_t* padded, std::vector<double>& p,
                std::vector<double>& acc) {
  p.assign(size_t(visible), 0.0);
  double top = -std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < visible; ++j) {
    if (padded && padded[j]) {
      p[j] = -std::numeric_limits<double>::infinity();
      continue;
    }
    double s = 0;
    for (int64_t k = 0; k < d; ++k) s += double(q[k]) * double(keys[j * d + k]);
    s = s * scale + (bias ? double(bias[j]) : 0.0);
    p[j] = s;
    top = std::max(top, s);
  }
  for (int64_t k = 0; k < d; ++k) out[k] = T(0);
  if (top == -std::numeric_limits<double>::infinity()) return;
  double total = 0;
  for (int64_t j = 0; j < visible; ++j) {
    p[j] = std::exp(p[j] - top);
    total += p[j];
  }
  acc.assign(size_t(d), 0.0);
  for (int64_t j = 0; j < visible; ++j) {
    if (p[j] == 0) continue;
    const double w = p[j] / total;
    for (int64_t k = 0; k < d; ++k) acc[k] += w * double(values[j * d + k]);
  }
  for (int64_t k = 0; k < d; ++k) out[k] = T(acc[k]);
}

}  // namespace

Tensor cached_attention(const Tensor& q, const KVCache& cache, const CachedKeys& keys, double scale,
                        const Tensor* score_bias) {
  if (q.dim() != 4 || !cache.keys.defined() || cache.keys.dim() != 4 ||
      cache.keys.shape() != cache.values.shape() || cache.keys.size(0) != q.size(0) ||
      cache.keys.size(1) != q.size(1) || cache.keys.size(3) != q.size(3) ||
      cache.keys.dtype() != q.dtype())
    throw std::invalid_argument(fmt::format(
        "cached attention: expected q (B,H,Tq,D) and a cache (B,H,capacity,D) of its dtype, got "
        "q {} and cache {}",
        q.describe(), cache.keys.defined() ? cache.keys.describe() : "(none)"));
  const int64_t b = q.size(0), h = q.size(1), tq = q.size(2), d = q.size(3),
                capacity = cache.capacity();
  if (int64_t(keys.visible.size()) != b * tq)
    throw std::invalid_argument(
        fmt::format("cached attention: {} visible counts for {} queries (B={} x Tq={})",
                    keys.visible.size(), b * tq, b, tq));
  int64_t tk = 0;
  for (int64_t v : keys.visible) {
    if (v < 0 || v > capacity)
      throw std::invalid_argument(fmt::format(
          "cached attention: a query sees {} keys but the cache holds {} positions", v, capacity));
    tk = std::max(tk, v);
  }
  if (keys.key_padding && (keys.key_padding->shape.size() != 2 || keys.key_padding->shape[0] != b ||
                           keys.key_padding->shape[1] < tk))
    throw std::invalid_argument(
        fmt::format("cached attention: key padding {} does not cover (B={}, {} keys)",
                    shape_str(keys.key_padding->shape), b, tk));
  if (score_bias &&
      (score_bias->dim() != 4 || (score_bias->size(0) != 1 && score_bias->size(0) != b) ||
       score_bias->size(1) != h || score_bias->size(2) != tq || score_bias->size(3) != tk))
    throw std::invalid_argument(
        fmt::format("cached attention: score bias {} does not match (B={},H={},Tq={},Tk={})",
                    shape_str(score_bias->shape()), b, h, tq, tk));
  Tensor out = Tensor::empty(q.shape(), q.dtype());  // (B,H,Tq,D)
  const int64_t pad_stride = keys.key_padding ? keys.key_padding->shape[1] : 0;
  dispatch(q.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* qd = q.data<T>();
    const T* kd = cache.keys.data<T>();
    const T* vd = cache.values.data<T>();
    const T* bd = score_bias ? score_bias->data<T>() : nullptr;
    T* od = out.data<T>();
    parallel_for(b * h, 1, [&](int64_t begin, int64_t end) {
      std::vector<double> p, acc;  // scratch, reused by every query row
      for (int64_t bh = begin; bh < end; ++bh) {
        const int64_t row = bh / h, head = bh % h;
        const T* k_block = kd + bh * capacity * d;  // this (b,h)'s positions are contiguous
        const T* v_block = vd + bh * capacity * d;
        const uint8_t* padded =
            keys.key_padding ? keys.key_padding->blocked.data() + row * pad_stride : nullptr;
        for (int64_t i = 0; i < tq; ++i) {
          const T* bias_row =
              bd ? bd + (((score_bias->size(0) == 1 ? 0 : row) * h + head) * tq + i) * tk : nullptr;
          attend_one<T>(od + (bh * tq + i) * d, qd + (bh * tq + i) * d, k_block, v_block,
                        keys.visible[row * tq + i], d, scale, bias_row, padded, p, acc);
        }
      }
    });
  });
  return out;
}

double MultiHeadAttention::score_scale() const {
  return scale_scores_ ? 1.0 / std::sqrt(double(dim_ / heads_)) : 1.0;
}

KVCache MultiHeadAttention::empty_cache(int64_t batch, int64_t capacity, DType dtype) const {
  const Shape shape{batch, heads_, capacity, dim_ / heads_};
  return KVCache{Tensor::zeros(shape, dtype), Tensor::zeros(shape, dtype)};
}

namespace {

// Writes new (B,H,Tn,D) keys or values into the cache (B,H,capacity,D) at
// row b's positions start[b], start[b]+1, ...
void write_cache(Tensor& cache, const Tensor& fresh, const std::vector<int64_t>& start) {
  const int64_t b = fresh.size(0), h = fresh.size(1), tn = fresh.size(2), d = fresh.size(3),
                capacity = cache.size(2);
  const size_t row_bytes = size_t(d) * dtype_size(cache.dtype());
  auto* dst = static_cast<uint8_t*>(cache.raw_data());
  const auto* src = static_cast<const uint8_t*>(fresh.raw_data());
  for (int64_t i = 0; i < b; ++i)
    for (int64_t j = 0; j < h; ++j)
      for (int64_t t = 0; t < tn; ++t)
        std::memcpy(dst + (((i * h + j) * capacity) + start[i] + t) * row_bytes,
                    src + (((i * h + j) * tn) + t) * row_bytes, row_bytes);
}

}  // namespace

Tensor MultiHeadAttention::forward_cached(const Tensor& x, KVCache& cache,
                                          const std::vector<int64_t>& start,
                                          const Tensor* score_bias,
                                          const std::vector<int64_t>* prefix) const {
  const int64_t b = x.size(0), tn = x.size(1);
  if (x.dim() != 3 || x.size(2) != dim_ || int64_t(start.size()) != b || cache.keys.size(0) != b ||
      (prefix && int64_t(prefix->size()) != b))
    throw std::invalid_argument(fmt::format(
        "{}: expected new tokens (B,Tn,{}) with one start position per row and a cache for B "
        "rows, got {}, {} starts, cache {}",
        where(), dim_, shape_str(x.shape()), start.size(), cache.keys.describe()));
  CachedKeys keys;
  for (int64_t i = 0; i < b; ++i) {
    if (start[i] < 0 || start[i] + tn > cache.capacity())
      throw std::invalid_argument(
          fmt::format("{}: row {} writes positions {}..{} but the cache holds {}", where(), i,
                      start[i], start[i] + tn - 1, cache.capacity()));
    const int64_t p = prefix ? (*prefix)[size_t(i)] : 0;
    if (start[i] < p && start[i] + tn < p)
      throw std::invalid_argument(
          fmt::format("{}: row {}'s prefix of {} tokens must be read in one piece, got {}..{}",
                      where(), i, p, start[i], start[i] + tn - 1));
    for (int64_t t = 0; t < tn; ++t) {
      const int64_t position = start[i] + t;
      // causal, and a prefix position sees the whole prefix
      keys.visible.push_back(position < p ? std::max(p, position + 1) : position + 1);
    }
  }
  write_cache(cache.keys, split_heads(k_proj_->forward(x), heads_), start);    // (B,H,Tn,D)
  write_cache(cache.values, split_heads(v_proj_->forward(x), heads_), start);  // (B,H,Tn,D)
  Tensor q = split_heads(q_proj_->forward(x), heads_);                         // (B,H,Tn,D)
  Tensor out = cached_attention(q, cache, keys, score_scale(), score_bias);    // (B,H,Tn,D)
  return project(merge_heads(out));                                            // (B,Tn,C)
}

KVCache MultiHeadAttention::memory_cache(const Tensor& memory) const {
  return KVCache{split_heads(k_proj_->forward(memory), heads_),   // (B,H,Tm,D)
                 split_heads(v_proj_->forward(memory), heads_)};  // (B,H,Tm,D)
}

Tensor MultiHeadAttention::forward_memory(const Tensor& x, const KVCache& memory_kv,
                                          const Mask* memory_padding) const {
  const int64_t b = x.size(0), tn = x.size(1);
  CachedKeys keys{std::vector<int64_t>(size_t(b * tn), memory_kv.capacity()), memory_padding};
  Tensor q = split_heads(q_proj_->forward(x), heads_);               // (B,H,Tn,D)
  Tensor out = cached_attention(q, memory_kv, keys, score_scale());  // (B,H,Tn,D)
  return project(merge_heads(out));                                  // (B,Tn,C)
}

}  // namespace attnlab
