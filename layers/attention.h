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

#include <functional>
#include <optional>
#include <vector>

namespace attnlab {

struct AttentionMasks {
  const Mask* key_padding = nullptr;   // (B, Tk), 1 = padding key
  bool causal = false;                 // query i sees keys up to its own position
  const Tensor* score_bias = nullptr;  // additive (1 or B, H, Tq, Tk), e.g. T5 relative bias
  // With causal, a prefix LM: row b's first prefix[b] positions also see
  // each other ahead (the prefix is read both ways); every later position
  // stays causal. (B) lengths, self-attention only.
  const std::vector<int64_t>* prefix = nullptr;
};

// Scaled dot-product attention over `heads` heads, for every routing (self,
// cross, causal, padded, biased): one routine.
//   q (B,Tq,H*D), k (B,Tk,H*D), v (B,Tk,H*D) -> (B,Tq,H*D)
// The heads are read and merged in place (no split or merge copies).
// `weights`, if given, receives softmax probabilities (B,H,Tq,Tk) (before
// dropout). Blocked positions get exactly 0 weight; a query whose keys are
// all blocked gets an all-zero row and a zero output.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    int64_t heads, const AttentionMasks& masks, double scale,
                                    const Dropout* dropout = nullptr, Tensor* weights = nullptr,
                                    const std::string& where = "attention");

// ---- decoding with a cache ---------------------------------------------------
//
// Generation adds one token at a time. A KV cache keeps the keys and values of
// every token so far, so a step projects only the new token and attends to
// the cache instead of recomputing the whole prefix. The buffers are
// allocated once at their capacity (the longest sequence the decode may
// reach); a step writes its tokens in place and reads the first positions,
// so nothing is re-copied as the output grows. Decoding runs without
// autograd.
struct KVCache {
  Tensor keys, values;  // (B,H,capacity,D)
  int64_t capacity() const { return keys.defined() ? keys.size(2) : 0; }
};

// Which cached keys a query may see: row b's query i sees positions
// [0, visible[b * Tq + i]), minus the padded positions of key_padding (B,
// capacity) when given. Causal self-attention: visible = its own position + 1;
// cross-attention: the source length.
struct CachedKeys {
  std::vector<int64_t> visible;  // (B*Tq)
  const Mask* key_padding = nullptr;
};

// Scaled dot-product attention of q (B,H,Tq,D) to the cache: (B,H,Tq,D).
// score_bias, if given, is (1 or B, H, Tq, Tk) with Tk = the largest visible
// count. The same arithmetic as scaled_dot_product_attention (which tests hold
// it to) without materialising the visible part of the cache.
Tensor cached_attention(const Tensor& q, const KVCache& cache, const CachedKeys& keys, double scale,
                        const Tensor* score_bias = nullptr);

// Heads removed from an attention (attnlab ablate): before the output
// projection, each listed head's slice of the merged head outputs (B,T,H*D)
// is replaced, by zeros or by `fill` (each channel's mean over a data set,
// for mean ablation).
struct HeadAblation {
  std::vector<int64_t> heads;  // in [0, H)
  std::vector<double> fill;    // (H*D) values for the removed slices; empty: zeros
};

// The merged head outputs an attention computed, summed per channel over
// every position (padding included), for mean ablation.
struct HeadOutputSums {
  std::vector<double> sum;  // (H*D)
  int64_t positions = 0;
};

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

  // An empty cache for `batch` sequences of up to `capacity` tokens.
  KVCache empty_cache(int64_t batch, int64_t capacity, DType dtype) const;
  // Self-attention of new tokens x (B,Tn,C), row b's at positions start[b],
  // start[b]+1, ...: their keys and values go into `cache` there, and each
  // attends causally to the cache -> (B,Tn,C). score_bias as for
  // cached_attention. `prefix` (B), for a prefix LM: a row's prefix
  // positions also see the rest of its prefix, which must come in the same
  // call (the prefill).
  Tensor forward_cached(const Tensor& x, KVCache& cache, const std::vector<int64_t>& start,
                        const Tensor* score_bias = nullptr,
                        const std::vector<int64_t>* prefix = nullptr) const;
  // Cross-attention: the keys and values of `memory` (B,Tm,C), computed once.
  KVCache memory_cache(const Tensor& memory) const;
  // Queries x (B,Tn,C) attend to all of `memory_kv` but its padding -> (B,Tn,C).
  Tensor forward_memory(const Tensor& x, const KVCache& memory_kv,
                        const Mask* memory_padding) const;

  // Removes heads from every forward (cached or not) until cleared with
  // nullopt. Throws std::invalid_argument naming this attention for a head
  // outside [0, H) or a fill that is not (H*D).
  void set_ablation(std::optional<HeadAblation> ablation);
  // While `sums` is set, every forward adds its merged head outputs into it.
  void record_head_outputs(HeadOutputSums* sums) { recorder_ = sums; }
  // Sets (or, when empty, clears) a hook every forward calls with its merged
  // head outputs (B,T,H*D) before recording, ablation and the output
  // projection; the forward goes on with what it returns (attnlab patch).
  void set_merged_hook(std::function<Tensor(const Tensor& merged)> hook) {
    merged_hook_ = std::move(hook);
  }

 private:
  double score_scale() const;
  // The merged head outputs (B,T,H*D), ablated and recorded as asked,
  // through the output projection -> (B,T,C).
  Tensor project(const Tensor& merged) const;
  std::optional<HeadAblation> ablation_;
  HeadOutputSums* recorder_ = nullptr;
  std::function<Tensor(const Tensor& merged)> merged_hook_;
  int64_t dim_, heads_;
  bool scale_scores_;
  std::shared_ptr<Linear> q_proj_, k_proj_, v_proj_, out_proj_;
  std::shared_ptr<Dropout> attn_dropout_;
};

}  // namespace attnlab
