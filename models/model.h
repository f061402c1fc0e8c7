// The four model families. Each is a Module whose parameter paths are its
// checkpoint keys (e.g. "decoder/layers/0/cross_attn/q_proj/weight").
// Inputs: ids (B,T) as IntTensor; padding masks (B,T) with 1 = padding (may
// be null when nothing is padded). Every forward can hand back the attention
// weights of each block, for study.
#pragma once

#include <vector>

#include "models/stack.h"

namespace attnlab {

class Model : public Module {
 public:
  explicit Model(const ModelConfig& config);
  const ModelConfig& config() const { return config_; }
  // The dropout stream (seed, offset): saved in checkpoints for exact resume.
  Generator& dropout_rng() const { return *rng_; }

 protected:
  ModelConfig config_;
  SharedGenerator rng_;
  ParamInit init_;  // used while the constructor registers parameters
  // h (..., C) -> logits (..., V) through the tied token embedding or a head.
  Tensor lm_logits(const Tensor& h, const Embedding& tokens, const Linear* untied_head) const;
};

// BERT-style: bidirectional encoder, [CLS] classification through a tanh
// pooler, optional masked-LM head tied to the token embedding.
class BertModel : public Model {
 public:
  explicit BertModel(const ModelConfig& config);
  Tensor encode(const IntTensor& ids, const Mask* padding,
                std::vector<BlockAttention>* attention = nullptr) const;  // (B,T,C)
  Tensor classify(const IntTensor& ids, const Mask* padding,
                  std::vector<BlockAttention>* attention = nullptr) const;  // (B,classes)
  Tensor mlm_logits(const Tensor& hidden) const;  // (B,T,C) -> (B,T,V); needs mlm_head

 private:
  std::shared_ptr<Embedding> tokens_;
  std::shared_ptr<InputEmbedding> embeddings_;
  std::shared_ptr<TransformerStack> encoder_;
  std::shared_ptr<Linear> pooler_, classifier_, mlm_dense_, mlm_decoder_;
  std::shared_ptr<Norm> mlm_norm_;
  std::shared_ptr<Dropout> dropout_;
  Tensor mlm_bias_;
};

// GPT-style: causal decoder, LM head tied to the token embedding.
class GptModel : public Model {
 public:
  explicit GptModel(const ModelConfig& config);
  Tensor logits(const IntTensor& ids, const Mask* padding,
                std::vector<BlockAttention>* attention = nullptr) const;  // (B,T,V)

 private:
  std::shared_ptr<Embedding> tokens_;
  std::shared_ptr<InputEmbedding> embeddings_;
  std::shared_ptr<TransformerStack> decoder_;
  std::shared_ptr<Linear> lm_head_;
};

// T5-style: encoder, and a decoder whose blocks cross-attend to its output.
class T5Model : public Model {
 public:
  explicit T5Model(const ModelConfig& config);
  Tensor encode(const IntTensor& src, const Mask* src_padding,
                std::vector<BlockAttention>* attention = nullptr) const;  // (B,Ts,C)
  Tensor decode(const IntTensor& tgt, const Mask* tgt_padding, const Tensor& memory,
                const Mask* src_padding,
                std::vector<BlockAttention>* attention = nullptr) const;  // (B,Tt,V)
  Tensor logits(const IntTensor& src, const Mask* src_padding, const IntTensor& tgt,
                const Mask* tgt_padding) const;  // (B,Tt,V)

 private:
  std::shared_ptr<Embedding> shared_;
  std::shared_ptr<InputEmbedding> encoder_embeddings_, decoder_embeddings_;
  std::shared_ptr<TransformerStack> encoder_, decoder_;
  std::shared_ptr<Linear> lm_head_;
};

// Perceiver-style: num_latents learned queries cross-attend to the embedded
// input once, latent self-attention blocks follow, the mean latent
// classifies. Input length enters the cost only through that cross-attention.
class PerceiverModel : public Model {
 public:
  explicit PerceiverModel(const ModelConfig& config);
  Tensor classify(const IntTensor& ids, const Mask* padding,
                  std::vector<BlockAttention>* attention = nullptr) const;  // (B,classes)
  // The latents after the cross-attention and latent blocks: (B,L,C).
  Tensor latents(const IntTensor& ids, const Mask* padding,
                 std::vector<BlockAttention>* attention = nullptr) const;

 private:
  std::shared_ptr<Embedding> tokens_;
  std::shared_ptr<InputEmbedding> embeddings_;
  Tensor latent_queries_;  // (L,C)
  std::shared_ptr<Norm> cross_attn_norm_, input_norm_, cross_ffn_norm_;
  std::shared_ptr<MultiHeadAttention> cross_attn_;
  std::shared_ptr<FeedForward> cross_ffn_;
  std::shared_ptr<TransformerStack> latent_;
  std::shared_ptr<Linear> classifier_;
};

// Builds the model the config's family names.
std::shared_ptr<Model> make_model(const ModelConfig& config);

}  // namespace attnlab
