#include "models/stats.h"

namespace attnlab {
namespace {

int64_t linear_params(int64_t in, int64_t out, bool bias) {
  return in * out + (bias ? out : 0);
}
int64_t norm_params(const ModelConfig& c) {
  return c.norm == NormKind::LayerNorm ? 2 * c.d_model : c.d_model;
}
int64_t attention_params(const ModelConfig& c) {
  return 4 * linear_params(c.d_model, c.d_model, c.bias);
}
int64_t ffn_params(const ModelConfig& c) {
  return linear_params(c.d_model, c.d_ff, c.bias) + linear_params(c.d_ff, c.d_model, c.bias);
}

int64_t block_params(const ModelConfig& c, BlockKind kind) {
  const int64_t attns = kind == BlockKind::EncoderDecoder ? 2 : 1;
  return (attns + 1) * norm_params(c) + attns * attention_params(c) + ffn_params(c);
}

int64_t stack_params(const ModelConfig& c, BlockKind kind, int64_t layers) {
  int64_t n = layers * block_params(c, kind);
  if (c.positions == PositionScheme::Relative) n += c.relative_buckets * c.n_heads;
  if (c.final_norm) n += norm_params(c);
  return n;
}

int64_t input_embedding_params(const ModelConfig& c) {
  int64_t n = c.positions == PositionScheme::Learned ? c.max_len * c.d_model : 0;
  if (c.embedding_norm) n += 2 * c.d_model;
  return n;
}

// Forward FLOPs of one block per query token, reading tk keys (and tm memory
// tokens per query token for cross-attention).
struct Flops {
  double dense = 0, attention = 0;
};
Flops block_flops(const ModelConfig& c, BlockKind kind, double tk, double tm) {
  const double C = double(c.d_model), F = double(c.d_ff);
  Flops f;
  f.dense = 2 * 4 * C * C + 2 * 2 * C * F;  // self q,k,v,o + FFN
  f.attention = 2 * 2 * tk * C;             // scores + weighted sum
  if (kind == BlockKind::EncoderDecoder) {
    f.dense += 2 * 4 * C * C;  // cross q,o per query; k,v per memory token (same count when Tm = T)
    f.attention += 2 * 2 * tm * C;
  }
  return f;
}

}  // namespace

ModelStats model_stats(const ModelConfig& c, int64_t seq_len) {
  ModelStats s;
  const double T = double(seq_len), C = double(c.d_model), V = double(c.vocab_size);
  const int64_t tokens = c.vocab_size * c.d_model;
  auto add_blocks = [&](BlockKind kind, int64_t layers, double tk, double tm, double share) {
    Flops f = block_flops(c, kind, tk, tm);
    s.dense_flops += layers * f.dense * share;
    s.attention_flops += layers * f.attention * share;
  };
  switch (c.family) {
    case Family::BERT:
      s.parameters =
          tokens + input_embedding_params(c) + stack_params(c, BlockKind::Encoder, c.n_layers) +
          linear_params(c.d_model, c.d_model, true) + linear_params(c.d_model, c.num_classes, true);
      if (c.mlm_head)
        s.parameters +=
            linear_params(c.d_model, c.d_model, true) + 2 * c.d_model +
            (c.tie_embeddings ? c.vocab_size : linear_params(c.d_model, c.vocab_size, true));
      add_blocks(BlockKind::Encoder, c.n_layers, T, 0, 1.0);
      // The pooler and classifier run once per sequence, on [CLS].
      s.dense_flops += (2 * C * C + 2 * C * double(c.num_classes)) / T;
      break;
    case Family::GPT:
      s.parameters = tokens + input_embedding_params(c) +
                     stack_params(c, BlockKind::Decoder, c.n_layers) +
                     (c.tie_embeddings ? 0 : tokens);
      add_blocks(BlockKind::Decoder, c.n_layers, T, 0, 1.0);
      s.dense_flops += 2 * C * V;  // LM head
      break;
    case Family::T5:
      s.parameters = tokens + 2 * input_embedding_params(c) +
                     stack_params(c, BlockKind::Encoder, c.n_layers) +
                     stack_params(c, BlockKind::EncoderDecoder, c.n_decoder_layers) +
                     (c.tie_embeddings ? 0 : tokens);
      add_blocks(BlockKind::Encoder, c.n_layers, T, 0, 1.0);
      add_blocks(BlockKind::EncoderDecoder, c.n_decoder_layers, T, T, 1.0);
      s.dense_flops += 2 * C * V;
      break;
    case Family::Perceiver: {
      const double L = double(c.num_latents);
      s.parameters = tokens + input_embedding_params(c) + c.num_latents * c.d_model +
                     3 * norm_params(c) + attention_params(c) + ffn_params(c) +
                     stack_params(c, BlockKind::Encoder, c.n_layers) +
                     linear_params(c.d_model, c.num_classes, true);
      // Per input token: its K and V projections, and its share of the scores.
      s.dense_flops += 2 * 2 * C * C;
      s.attention_flops += 2 * 2 * L * C;
      // Fixed latent work (cross q,o, cross FFN, latent blocks, classifier), spread over T.
      s.dense_flops += L * (2 * 2 * C * C + 2 * 2 * C * double(c.d_ff)) / T;
      add_blocks(BlockKind::Encoder, c.n_layers, L, 0, L / T);
      s.dense_flops += 2 * C * double(c.num_classes) / T;
      break;
    }
  }
  return s;
}

}  // namespace attnlab
