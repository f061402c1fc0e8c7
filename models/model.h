// The four model families behind one interface. Training, evaluation and
// decoding talk to `Model` only: they ask for its Architecture and call the
// methods that architecture supports, never switching on the family.
//
//   architecture    methods                     families
//   Classifier      classify                    BERT (+ encode, masked_lm_logits), Perceiver
//   DecoderOnly     decode                      GPT
//   EncoderDecoder  encode, then decode         T5
//
// Each family is a Module whose parameter paths are its checkpoint keys (e.g.
// "decoder/layers/0/cross_attn/q_proj/weight"). Inputs: ids (B,T) as
// IntTensor; padding masks (B,T) with 1 = padding (null when nothing is
// padded). Every forward can hand back the attention weights of each block.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "models/stack.h"
#include "models/trace.h"

namespace attnlab {

enum class Architecture { Classifier, DecoderOnly, EncoderDecoder };

// Which forward handed back a list of BlockAttention (name_attention).
enum class Forward { Classify, Encode, Decode };

// What a generating model keeps between decoding steps: one KV cache per
// decoder block (layers/attention.h), and for an encoder-decoder the source
// padding its cross-attention needs at every step.
struct DecodeCache {
  std::vector<BlockCache> blocks;
  Mask memory_padding;  // (B,Ts), empty when nothing is padded
  // A prefix LM: each row's prefix length (its prompt), read both ways in
  // the prefill; empty otherwise.
  std::vector<int64_t> prefix;

  // Keeps only the given rows (in that order): finished rows stop costing
  // work. Copies the kept rows once.
  void keep_rows(const std::vector<int64_t>& rows);
};

class Model : public Module {
 public:
  explicit Model(const ModelConfig& config);
  const ModelConfig& config() const { return config_; }
  virtual Architecture architecture() const = 0;

  // The methods an architecture does not support throw std::logic_error
  // naming the family and the method.

  // Classifier: ids (B,T) -> logits (B,K).
  virtual Tensor classify(const IntTensor& ids, const Mask* padding,
                          std::vector<BlockAttention>* attention = nullptr) const;
  // The encoder's output (B,T,C): what an encoder-decoder's decoder attends
  // to, or a classifier encoder's hidden states.
  virtual Tensor encode(const IntTensor& ids, const Mask* padding,
                        std::vector<BlockAttention>* attention = nullptr) const;
  // Next-token logits (B,T,V) at every position of `tokens` (B,T): the whole
  // sequence for a decoder-only model; for an encoder-decoder, the decoder
  // input, attending to `memory` = encode(source) (B,Ts,C) whose padding is
  // `memory_padding` (B,Ts).
  virtual Tensor decode(const IntTensor& tokens, const Mask* padding,
                        const Tensor* memory = nullptr, const Mask* memory_padding = nullptr,
                        std::vector<BlockAttention>* attention = nullptr) const;
  // A prefix LM (DecoderOnly built with prefix_lm): decode() where row b's
  // first prefix[b] tokens (B) are read both ways; later ones stay causal.
  virtual Tensor decode_prefix(const IntTensor& tokens, const Mask* padding,
                               const std::vector<int64_t>& prefix,
                               std::vector<BlockAttention>* attention = nullptr) const;
  // Decoding one step at a time (DecoderOnly, EncoderDecoder). start_decoding
  // makes an empty cache for `batch` rows of up to `capacity` decoder tokens
  // (an encoder-decoder also takes memory = encode(source) and its padding);
  // decode_cached runs new tokens (B,Tn), row b's at positions start[b]..,
  // and returns their next-token logits (B,Tn,V): the rows decode() would give
  // at those positions for the whole sequence so far. Feed the prompt first
  // (start 0), then one token per step.
  virtual DecodeCache start_decoding(int64_t batch, int64_t capacity,
                                     const Tensor* memory = nullptr,
                                     const Mask* memory_padding = nullptr) const;
  virtual Tensor decode_cached(const IntTensor& tokens, const std::vector<int64_t>& start,
                               DecodeCache& cache) const;

  // The logit lens (DecoderOnly, EncoderDecoder): what the decoder would
  // predict from the hidden state (..., C) after any of its blocks (a
  // BlockAttention's output): its stack's final norm and the LM head, as
  // decode() applies them after the last block -> (..., V).
  virtual Tensor lens_logits(const Tensor& hidden) const;

  // Masked-LM logits (B,T,V) from encode()'s hidden states (B,T,C); needs a
  // model built with mlm_head.
  virtual Tensor masked_lm_logits(const Tensor& hidden) const;

  // Adds to `trace` the maps and block outputs of `attention`, what one
  // forward of a batch of one handed back: which stack each block is in, the
  // kind of each attention and the axes it joins. `axis` names the tokens the
  // forward read, `memory_axis` those its cross-attention reads (Decode). The
  // model names its own stacks, so a trace never asks which family it holds:
  // encode is "encoder" (bidirectional), decode "decoder" (causal, with cross
  // when there is a memory); a model with other stacks overrides this.
  virtual void name_attention(Forward forward, const std::vector<BlockAttention>& attention,
                              const std::string& axis, const std::string& memory_axis,
                              Trace& trace) const;

  // The dropout stream (seed, offset): saved in checkpoints for exact resume.
  const Generator& dropout_rng() const { return *rng_; }
  void set_dropout_rng(const Generator& state) { *rng_ = state; }

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
  Architecture architecture() const override { return Architecture::Classifier; }
  Tensor encode(const IntTensor& ids, const Mask* padding,
                std::vector<BlockAttention>* attention = nullptr) const override;  // (B,T,C)
  Tensor classify(const IntTensor& ids, const Mask* padding,
                  std::vector<BlockAttention>* attention = nullptr) const override;  // (B,K)
  Tensor masked_lm_logits(const Tensor& hidden) const override;  // (B,T,C) -> (B,T,V)

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
  Architecture architecture() const override { return Architecture::DecoderOnly; }
  // ids (B,T) -> (B,T,V); there is no encoder, so `memory` must be null.
  Tensor decode(const IntTensor& ids, const Mask* padding, const Tensor* memory = nullptr,
                const Mask* memory_padding = nullptr,
                std::vector<BlockAttention>* attention = nullptr) const override;
  Tensor decode_prefix(const IntTensor& ids, const Mask* padding,
                       const std::vector<int64_t>& prefix,
                       std::vector<BlockAttention>* attention = nullptr) const override;
  Tensor lens_logits(const Tensor& hidden) const override;  // (..., C) -> (..., V)
  DecodeCache start_decoding(int64_t batch, int64_t capacity, const Tensor* memory = nullptr,
                             const Mask* memory_padding = nullptr) const override;
  Tensor decode_cached(const IntTensor& tokens, const std::vector<int64_t>& start,
                       DecodeCache& cache) const override;

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
  Architecture architecture() const override { return Architecture::EncoderDecoder; }
  Tensor encode(const IntTensor& src, const Mask* src_padding,
                std::vector<BlockAttention>* attention = nullptr) const override;  // (B,Ts,C)
  // tgt (B,Tt) -> (B,Tt,V); memory (B,Ts,C) is required.
  Tensor decode(const IntTensor& tgt, const Mask* tgt_padding, const Tensor* memory = nullptr,
                const Mask* src_padding = nullptr,
                std::vector<BlockAttention>* attention = nullptr) const override;
  // encode then decode: teacher-forced logits (B,Tt,V).
  Tensor logits(const IntTensor& src, const Mask* src_padding, const IntTensor& tgt,
                const Mask* tgt_padding) const;
  // memory (B,Ts,C) is required; the cross keys and values are computed here once.
  Tensor lens_logits(const Tensor& hidden) const override;  // (..., C) -> (..., V)
  DecodeCache start_decoding(int64_t batch, int64_t capacity, const Tensor* memory = nullptr,
                             const Mask* memory_padding = nullptr) const override;
  Tensor decode_cached(const IntTensor& tokens, const std::vector<int64_t>& start,
                       DecodeCache& cache) const override;

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
  Architecture architecture() const override { return Architecture::Classifier; }
  Tensor classify(const IntTensor& ids, const Mask* padding,
                  std::vector<BlockAttention>* attention = nullptr) const override;  // (B,K)
  // The latents after the cross-attention and latent blocks: (B,L,C).
  Tensor latents(const IntTensor& ids, const Mask* padding,
                 std::vector<BlockAttention>* attention = nullptr) const;
  // classify's attention: the latents' cross-attention to the input
  // ("latent/cross_attn"), then the latent stack, on a "latents" axis.
  void name_attention(Forward forward, const std::vector<BlockAttention>& attention,
                      const std::string& axis, const std::string& memory_axis,
                      Trace& trace) const override;

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

// Trace helpers for name_attention: the blocks of one stack
// ("stack/layers/i/self_attn", ".../cross_attn" and the block output
// "stack/layers/i"), and one lone cross-attention step ("name/cross_attn",
// output "name/cross_step").
void add_traced_stack(Trace& trace, const std::string& stack,
                      std::span<const BlockAttention> blocks, const char* self_kind,
                      const std::string& axis, const std::string& memory_axis);
void add_traced_block(Trace& trace, const std::string& name, const BlockAttention& block,
                      const char* cross_kind, const std::string& axis,
                      const std::string& memory_axis);

// Builds the model the config's family names.
std::shared_ptr<Model> make_model(const ModelConfig& config);
// The architecture of a family's models (what make_model's would answer),
// for deciding before any model is built.
Architecture architecture_of(Family family);

// How a family learns from plain text, as its paper pre-trained it: GPT
// predicts each next token, BERT fills in masked tokens, T5 writes the spans
// dropped from its input. The Perceiver has no text objective.
enum class TextObjective { None, CausalLM, MaskedLM, SpanCorruption };
TextObjective text_objective(Family family);

}  // namespace attnlab
