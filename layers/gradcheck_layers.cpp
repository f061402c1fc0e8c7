// Layer-level float64 gradient checks: each layer's output with respect to
// its input and every parameter (the parameters are the checked inputs; the
// checker perturbs them in place).
#include "layers/gradcheck_layers.h"

#include "layers/block.h"
#include "layers/positions.h"

namespace attnlab {
namespace {

// Checks fn() against the module's parameters plus the extra inputs.
GradCheckResult check_module(const Module& m, std::vector<Tensor> extra,
                             const std::function<Tensor()>& fn) {
  std::vector<Tensor> inputs = m.parameters();
  inputs.insert(inputs.end(), extra.begin(), extra.end());
  return gradcheck([&](const std::vector<Tensor>&) { return fn(); }, inputs);
}

ParamInit f64_init(uint64_t seed) {
  return ParamInit{Generator{seed, 0}, 0.3, DType::F64};
}

// (B, T) padding mask from per-row valid lengths.
Mask lengths_mask(const std::vector<int64_t>& lengths, int64_t t) {
  Mask m{{int64_t(lengths.size()), t}, {}};
  for (int64_t len : lengths)
    for (int64_t j = 0; j < t; ++j) m.blocked.push_back(j >= len);
  return m;
}

BlockConfig tiny_block(NormKind norm, NormPlacement placement, bool bias) {
  BlockConfig c;
  c.dim = 8;
  c.heads = 2;
  c.ffn_dim = 12;
  c.norm = norm;
  c.placement = placement;
  c.bias = bias;
  c.dropout = 0.0;  // dropout is checked as an op; here it would move the mask between evaluations
  return c;
}

GradCheckCase attention_case(std::string name, std::string shapes, bool cross, bool causal,
                             bool padded, bool relative) {
  return {std::move(name), std::move(shapes), [=]() {
            ParamInit init = f64_init(11);
            MultiHeadAttention attn(8, 2, true, true, 0.0, nullptr, init);
            Tensor x = gradcheck_input({2, 3, 8}, 21);
            Tensor mem = cross ? gradcheck_input({2, 5, 8}, 22) : x;
            const int64_t tk = cross ? 5 : 3;
            Mask pad = lengths_mask({tk, tk - 2}, tk);
            RelativePositionBias rel(!causal, 8, 16, 2, init);
            return check_module(
                attn, cross ? std::vector<Tensor>{x, mem} : std::vector<Tensor>{x}, [&] {
                  Tensor bias = relative ? rel.forward(3, tk) : Tensor();
                  AttentionMasks masks{padded ? &pad : nullptr, causal, relative ? &bias : nullptr};
                  return attn.forward(x, mem, masks);
                });
          }};
}

GradCheckCase block_case(std::string name, std::string shapes, BlockKind kind, NormKind norm,
                         NormPlacement placement, bool bias) {
  return {std::move(name), std::move(shapes), [=]() {
            ParamInit init = f64_init(12);
            TransformerBlock block(kind, tiny_block(norm, placement, bias), nullptr, init);
            Tensor x = gradcheck_input({2, 3, 8}, 23);
            Tensor mem = gradcheck_input({2, 4, 8}, 24);
            Mask pad = lengths_mask({3, 2}, 3), mem_pad = lengths_mask({4, 1}, 4);
            std::vector<Tensor> extra{x};
            if (kind == BlockKind::EncoderDecoder) extra.push_back(mem);
            return check_module(block, extra, [&] {
              return block.forward(x, BlockInputs{&pad, nullptr, &mem, &mem_pad});
            });
          }};
}

}  // namespace

std::vector<GradCheckCase> layer_gradcheck_cases() {
  std::vector<GradCheckCase> cases;
  cases.push_back({"layer/linear", "x (2,3,4) -> (2,3,5), bias", [] {
                     ParamInit init = f64_init(1);
                     Linear lin(4, 5, true, init);
                     Tensor x = gradcheck_input({2, 3, 4}, 2);
                     return check_module(lin, {x}, [&] { return lin.forward(x); });
                   }});
  for (NormKind kind : {NormKind::LayerNorm, NormKind::RMSNorm})
    cases.push_back({std::string("layer/norm_") + norm_kind_name(kind), "x (2,3,6)", [kind] {
                       ParamInit init = f64_init(3);
                       Norm norm(6, kind, 1e-5, init);
                       // Move gamma/beta off their 1/0 initial values so they matter.
                       for (Tensor& p : norm.parameters()) p.data<double>()[1] += 0.3;
                       Tensor x = gradcheck_input({2, 3, 6}, 4);
                       return check_module(norm, {x}, [&] { return norm.forward(x); });
                     }});
  for (Activation act : {Activation::GELU, Activation::GELUTanh, Activation::ReLU})
    cases.push_back({std::string("layer/ffn_") + activation_name(act), "x (2,3,6), F=10", [act] {
                       ParamInit init = f64_init(5);
                       FeedForward ffn(6, 10, act, true, 0.0, nullptr, init);
                       Tensor x = gradcheck_input({2, 3, 6}, 6);
                       return check_module(ffn, {x}, [&] { return ffn.forward(x); });
                     }});
  cases.push_back({"layer/learned_positions", "table (6,4), T=5", [] {
                     ParamInit init = f64_init(7);
                     LearnedPositions pos(6, 4, init, 0.5);
                     return check_module(pos, {}, [&] { return pos.forward(5); });
                   }});
  for (bool bidirectional : {true, false})
    cases.push_back(
        {bidirectional ? "layer/relative_bias_bidirectional" : "layer/relative_bias_causal",
         "buckets 8, max distance 16, H=2, (Tq,Tk)=(5,7)", [bidirectional] {
           ParamInit init = f64_init(8);
           RelativePositionBias rel(bidirectional, 8, 16, 2, init);
           return check_module(rel, {}, [&] { return rel.forward(5, 7, 2); });
         }});
  cases.push_back(attention_case("layer/attention_self_padded", "x (2,3,8), H=2, key padding",
                                 false, false, true, false));
  cases.push_back(attention_case("layer/attention_causal", "x (2,3,8), H=2, causal + padding",
                                 false, true, true, false));
  cases.push_back(attention_case("layer/attention_cross",
                                 "x (2,3,8), memory (2,5,8), memory padding", true, false, true,
                                 false));
  cases.push_back(attention_case("layer/attention_relative_bias",
                                 "x (2,3,8), relative bias (1,2,3,3)", false, false, false, true));
  cases.push_back(block_case("layer/block_encoder_postnorm", "x (2,3,8), LayerNorm post",
                             BlockKind::Encoder, NormKind::LayerNorm, NormPlacement::Post, true));
  cases.push_back(block_case("layer/block_decoder_prenorm", "x (2,3,8), LayerNorm pre",
                             BlockKind::Decoder, NormKind::LayerNorm, NormPlacement::Pre, true));
  cases.push_back(
      block_case("layer/block_encoder_decoder", "x (2,3,8), memory (2,4,8), RMSNorm pre, no bias",
                 BlockKind::EncoderDecoder, NormKind::RMSNorm, NormPlacement::Pre, false));
  return cases;
}

}  // namespace attnlab
