#include "models/stats.h"

#include <fmt/format.h>

#include <algorithm>

namespace attnlab {

// ---- parameters ----------------------------------------------------------------

ParameterComponent parameter_component(const std::string& path) {
  const std::string top = path.substr(0, path.find('/'));
  if (top == "pooler" || top == "classifier" || top == "lm_head" || top.rfind("mlm", 0) == 0)
    return ParameterComponent::Heads;
  if (path.find("attn/") != std::string::npos || path.find("relative_bias/") != std::string::npos)
    return ParameterComponent::Attention;
  if (path.find("ffn/") != std::string::npos) return ParameterComponent::FFN;
  const size_t last = path.rfind('/');
  const std::string module = last == std::string::npos ? "" : path.substr(0, last);
  if (module.substr(module.rfind('/') + 1).find("norm") != std::string::npos)
    return ParameterComponent::Norms;
  return ParameterComponent::Embeddings;  // token and position tables, latent queries
}

void add_to(ParameterBreakdown& p, ParameterComponent component, int64_t count) {
  switch (component) {
    case ParameterComponent::Embeddings:
      p.embeddings += count;
      break;
    case ParameterComponent::Attention:
      p.attention += count;
      break;
    case ParameterComponent::FFN:
      p.ffn += count;
      break;
    case ParameterComponent::Norms:
      p.norms += count;
      break;
    case ParameterComponent::Heads:
      p.heads += count;
      break;
  }
}

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

void add_stack_params(ParameterBreakdown& p, const ModelConfig& c, BlockKind kind, int64_t layers) {
  const int64_t attns = kind == BlockKind::EncoderDecoder ? 2 : 1;
  p.attention += layers * attns * attention_params(c);
  p.ffn += layers * ffn_params(c);
  p.norms += layers * (attns + 1) * norm_params(c);
  if (c.positions == PositionScheme::Relative) p.attention += c.relative_buckets * c.n_heads;
  if (c.final_norm) p.norms += norm_params(c);
}

// Position table and embedding norm of one InputEmbedding (the token table is
// the model's, counted once).
void add_input_embedding_params(ParameterBreakdown& p, const ModelConfig& c) {
  if (c.positions == PositionScheme::Learned) p.embeddings += c.max_len * c.d_model;
  if (c.embedding_norm) p.norms += 2 * c.d_model;
}

ParameterBreakdown parameter_breakdown(const ModelConfig& c) {
  ParameterBreakdown p;
  p.embeddings = c.vocab_size * c.d_model;  // the token table
  const int64_t untied_lm_head = c.tie_embeddings ? 0 : c.vocab_size * c.d_model;
  switch (c.family) {
    case Family::BERT:
      add_input_embedding_params(p, c);
      add_stack_params(p, c, BlockKind::Encoder, c.n_layers);
      p.heads += linear_params(c.d_model, c.d_model, true) +
                 linear_params(c.d_model, c.num_classes, true);  // pooler, classifier
      if (c.mlm_head)
        p.heads += linear_params(c.d_model, c.d_model, true) + 2 * c.d_model +
                   (c.tie_embeddings ? c.vocab_size : linear_params(c.d_model, c.vocab_size, true));
      break;
    case Family::GPT:
      add_input_embedding_params(p, c);
      add_stack_params(p, c, BlockKind::Decoder, c.n_layers);
      p.heads += untied_lm_head;
      break;
    case Family::T5:
      add_input_embedding_params(p, c);
      add_input_embedding_params(p, c);
      add_stack_params(p, c, BlockKind::Encoder, c.n_layers);
      add_stack_params(p, c, BlockKind::EncoderDecoder, c.n_decoder_layers);
      p.heads += untied_lm_head;
      break;
    case Family::Perceiver:
      add_input_embedding_params(p, c);
      p.embeddings += c.num_latents * c.d_model;
      p.norms += 3 * norm_params(c);  // input, cross-attention and cross-FFN norms
      p.attention += attention_params(c);
      p.ffn += ffn_params(c);
      add_stack_params(p, c, BlockKind::Encoder, c.n_layers);
      p.heads += linear_params(c.d_model, c.num_classes, true);
      break;
  }
  return p;
}

// ---- FLOPs ---------------------------------------------------------------------

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

void add_flops(ModelStats& s, const ModelConfig& c, int64_t seq_len) {
  const double T = double(seq_len), C = double(c.d_model), V = double(c.vocab_size);
  auto add_blocks = [&](BlockKind kind, int64_t layers, double tk, double tm, double share) {
    Flops f = block_flops(c, kind, tk, tm);
    s.dense_flops += layers * f.dense * share;
    s.attention_flops += layers * f.attention * share;
  };
  switch (c.family) {
    case Family::BERT:
      add_blocks(BlockKind::Encoder, c.n_layers, T, 0, 1.0);
      // The pooler and classifier run once per sequence, on [CLS].
      s.dense_flops += (2 * C * C + 2 * C * double(c.num_classes)) / T;
      break;
    case Family::GPT:
      add_blocks(BlockKind::Decoder, c.n_layers, T, 0, 1.0);
      s.dense_flops += 2 * C * V;  // LM head
      break;
    case Family::T5:
      add_blocks(BlockKind::Encoder, c.n_layers, T, 0, 1.0);
      add_blocks(BlockKind::EncoderDecoder, c.n_decoder_layers, T, T, 1.0);
      s.dense_flops += 2 * C * V;
      break;
    case Family::Perceiver: {
      const double L = double(c.num_latents);
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
}

// ---- activations ---------------------------------------------------------------

// Counts the elements of every tensor the forward graph holds, op by op, in
// the order the model's forward creates them (models/*.cpp, layers/*.cpp).
// Reshapes are views and cost nothing; every other op makes a new tensor.
class ActivationCount {
 public:
  ActivationCount(const ModelConfig& c, int64_t batch)
      : c_(c), B_(double(batch)), C_(double(c.d_model)), drop_(c.dropout > 0 ? 1 : 0) {}
  double elements = 0;

  // one output: the bias is added inside the GEMM (autograd/matmul.cpp)
  void linear(double rows, double out) { elements += rows * out; }
  void norm(double rows) { elements += rows * C_; }
  void dropout(double n) { elements += drop_ * n; }

  // tokens + positions [+ norm], dropout
  void input_embedding(double T) {
    elements += B_ * T * C_;  // token lookup
    if (c_.positions == PositionScheme::Learned || c_.positions == PositionScheme::Sinusoidal)
      elements += T * C_ + B_ * T * C_;  // position rows (shared by the batch), the sum
    if (c_.embedding_norm) norm(B_ * T);
    dropout(B_ * T * C_);
  }

  // q from Tq rows, k and v from Tk rows, each projected (heads are read in
  // place, never split into copies); attention as one streamed op
  // (flash_attention, dropout inside) that keeps its output and each row's
  // log-sum-exp, never the (Tq,Tk) weights; output projection.
  void attention(double Tq, double Tk) {
    const double nq = B_ * Tq, nk = B_ * Tk;
    linear(nq, C_);
    for (int kv = 0; kv < 2; ++kv) linear(nk, C_);
    elements += B_ * double(c_.n_heads) * Tq;  // log-sum-exp per query row and head
    elements += nq * C_;                       // the output, heads merged in place
    linear(nq, C_);
  }

  void ffn(double n) {
    linear(n, double(c_.d_ff));
    elements += n * double(c_.d_ff);  // activation
    dropout(n * double(c_.d_ff));
    linear(n, C_);
  }

  // norm, sublayer, dropout, residual sum (the same count pre- or post-norm)
  template <typename F>
  void residual(double n, F&& sublayer) {
    norm(n);
    sublayer();
    dropout(n * C_);
    elements += n * C_;
  }

  void block(BlockKind kind, double T, double Tm) {
    const double n = B_ * T;
    residual(n, [&] { attention(T, T); });
    if (kind == BlockKind::EncoderDecoder) residual(n, [&] { attention(T, Tm); });
    residual(n, [&] { ffn(n); });
  }

  void stack(BlockKind kind, int64_t layers, double T, double Tm) {
    if (c_.positions == PositionScheme::Relative)
      elements += 2 * double(c_.n_heads) * T * T;  // bias lookup (T,T,H), permuted (H,T,T)
    for (int64_t i = 0; i < layers; ++i) block(kind, T, Tm);
    if (c_.final_norm) norm(B_ * T);
  }

  void lm_head(double T) {
    if (c_.tie_embeddings && c_.scale_tied_logits) elements += B_ * T * C_;
    elements += B_ * T * double(c_.vocab_size);
  }

 private:
  const ModelConfig& c_;
  double B_, C_;
  double drop_;
};

double activation_elements(const ModelConfig& c, double T, int64_t batch) {
  ActivationCount a(c, batch);
  const double B = double(batch), C = double(c.d_model), K = double(c.num_classes);
  switch (c.family) {
    case Family::BERT:
      a.input_embedding(T);
      a.stack(BlockKind::Encoder, c.n_layers, T, 0);
      a.elements += B * C;  // [CLS] rows
      a.linear(B, C);
      a.elements += B * C;  // tanh
      a.dropout(B * C);
      a.linear(B, K);
      break;
    case Family::GPT:
      a.input_embedding(T);
      a.stack(BlockKind::Decoder, c.n_layers, T, 0);
      a.lm_head(T);
      break;
    case Family::T5:
      a.input_embedding(T);
      a.stack(BlockKind::Encoder, c.n_layers, T, 0);
      a.input_embedding(T);
      a.stack(BlockKind::EncoderDecoder, c.n_decoder_layers, T, T);
      a.lm_head(T);
      break;
    case Family::Perceiver: {
      const double L = double(c.num_latents), n = B * L;
      a.input_embedding(T);
      a.norm(B * T);
      a.elements += 2 * n * C;  // zeros (B,L,C) + the latent queries
      a.norm(n);
      a.attention(L, T);
      a.elements += n * C;  // residual sum
      a.norm(n);
      a.ffn(n);
      a.elements += n * C;
      a.stack(BlockKind::Encoder, c.n_layers, L, 0);
      a.elements += B * C;  // mean over latents
      a.linear(B, K);
      break;
    }
  }
  return a.elements;
}

}  // namespace

int64_t parameter_count(const ModelConfig& config) {
  return parameter_breakdown(config).total();
}

ModelStats model_stats(const ModelConfig& c, int64_t seq_len, int64_t batch) {
  ModelStats s;
  s.parameters = parameter_breakdown(c);
  add_flops(s, c, seq_len);
  const double element_bytes = double(dtype_size(c.dtype));
  s.activation_bytes = activation_elements(c, double(seq_len), batch) * element_bytes /
                       (double(batch) * double(seq_len));
  const double kv_per_layer = 2.0 * double(c.d_model) * element_bytes;  // one key, one value
  if (c.family == Family::GPT) s.self_cache_bytes_per_token = kv_per_layer * double(c.n_layers);
  if (c.family == Family::T5) {
    s.self_cache_bytes_per_token = kv_per_layer * double(c.n_decoder_layers);
    s.cross_cache_bytes_per_source_token = kv_per_layer * double(c.n_decoder_layers);
  }
  return s;
}

Tensor forward_for_stats(const Model& model, int64_t batch, int64_t seq_len) {
  IntTensor ids{{batch, seq_len}, std::vector<int32_t>(size_t(batch * seq_len))};
  const int64_t ids_used =
      std::max<int64_t>(1, std::min<int64_t>(7, model.config().vocab_size - 1));
  for (size_t i = 0; i < ids.data.size(); ++i) ids.data[i] = int32_t(1 + int64_t(i) % ids_used);
  switch (model.architecture()) {
    case Architecture::DecoderOnly:
      return model.decode(ids, nullptr);
    case Architecture::EncoderDecoder: {
      Tensor memory = model.encode(ids, nullptr);
      return model.decode(ids, nullptr, &memory, nullptr);
    }
    case Architecture::Classifier:
      break;
  }
  return model.classify(ids, nullptr);
}

// ---- layout --------------------------------------------------------------------

std::vector<BlockLayout> model_layout(const ModelConfig& c, int64_t seq_len, int64_t batch) {
  const int64_t B = batch, H = c.n_heads, T = seq_len, L = c.num_latents;
  const std::string padding = fmt::format("padding ({},1,1,{})", B, T);
  const std::string ffn = "FFN";
  std::vector<BlockLayout> out;
  auto self_block = [&](const std::string& name, bool causal, const std::string& source) {
    AttentionSite self{causal ? AttentionKind::CausalSelf : AttentionKind::BidirectionalSelf,
                       source,
                       source,
                       {B, H, T, T},
                       padding};
    if (causal)
      self.mask = fmt::format("causal ({},{}) triangle; with padding, combined ({},1,{},{})", T, T,
                              B, T, T);
    if (c.positions == PositionScheme::Relative)
      self.mask += fmt::format(" + relative bias (1,{},{},{})", H, T, T);
    return BlockLayout{name, {self}, ffn};
  };
  switch (c.family) {
    case Family::BERT:
      for (int64_t i = 0; i < c.n_layers; ++i)
        out.push_back(self_block(fmt::format("encoder.{}", i), false, "tokens"));
      out.push_back({"head", {}, "[CLS] -> tanh pooler -> classifier"});
      break;
    case Family::GPT:
      for (int64_t i = 0; i < c.n_layers; ++i)
        out.push_back(self_block(fmt::format("decoder.{}", i), true, "tokens"));
      out.push_back({"head", {}, c.tie_embeddings ? "LM head (tied)" : "LM head"});
      break;
    case Family::T5:
      for (int64_t i = 0; i < c.n_layers; ++i)
        out.push_back(self_block(fmt::format("encoder.{}", i), false, "source"));
      for (int64_t i = 0; i < c.n_decoder_layers; ++i) {
        BlockLayout b = self_block(fmt::format("decoder.{}", i), true, "target");
        b.attention.push_back({AttentionKind::Cross,
                               "target",
                               "encoder output",
                               {B, H, T, T},
                               fmt::format("source padding ({},1,1,{}), broadcast over {} target "
                                           "rows",
                                           B, T, T)});
        out.push_back(b);
      }
      out.push_back({"head", {}, c.tie_embeddings ? "LM head (tied)" : "LM head"});
      break;
    case Family::Perceiver: {
      out.push_back({"cross",
                     {{AttentionKind::LatentCross,
                       fmt::format("{} latents", L),
                       "input tokens",
                       {B, H, L, T},
                       fmt::format("input padding ({},1,1,{})", B, T)}},
                     ffn});
      for (int64_t i = 0; i < c.n_layers; ++i) {
        BlockLayout b = self_block(fmt::format("latent.{}", i), false, "latents");
        b.attention[0].scores = {B, H, L, L};
        b.attention[0].mask = "none (latents are never padding)";
        out.push_back(b);
      }
      out.push_back({"head", {}, "mean of latents -> classifier"});
      break;
    }
  }
  return out;
}

std::string architecture_summary(const ModelConfig& c) {
  std::string line =
      fmt::format("d_model {}, {} heads, d_ff {}, {} {}, vocab {}, {}-norm {}, {} positions",
                  c.d_model, c.n_heads, c.d_ff, c.n_layers,
                  c.family == Family::T5          ? "encoder layers"
                  : c.family == Family::Perceiver ? "latent layers"
                                                  : "layers",
                  c.vocab_size, enum_name(kNormPlacementNames, c.placement),
                  c.norm == NormKind::LayerNorm ? "LayerNorm" : "RMSNorm",
                  enum_name(kPositionNames, c.positions));
  if (c.family == Family::T5) line += fmt::format(", {} decoder layers", c.n_decoder_layers);
  if (c.family == Family::Perceiver) line += fmt::format(", {} latents", c.num_latents);
  return line;
}

}  // namespace attnlab
