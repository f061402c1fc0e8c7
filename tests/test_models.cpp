// Model construction: names, counts, FLOPs, configs and shape errors.
#include <catch2/catch.hpp>
#include <set>

#include "autograd/accounting.h"
#include "models/gradcheck_models.h"
#include "models/stats.h"

using namespace attnlab;
using Catch::Matchers::Contains;

namespace {
ModelConfig small(Family f) {
  ModelConfig c = preset(f);
  c.vocab_size = 40;
  c.d_model = 32;
  c.n_heads = 4;
  c.d_ff = 64;
  c.max_len = 24;
  c.num_classes = 3;
  return c;
}

// Configurations that exercise every switch the formulas read.
std::vector<std::pair<std::string, ModelConfig>> stats_configs() {
  std::vector<std::pair<std::string, ModelConfig>> configs;
  for (Family f : {Family::BERT, Family::GPT, Family::T5, Family::Perceiver}) {
    ModelConfig c = small(f);
    configs.push_back({family_name(f), c});
    c.bias = !c.bias;
    c.norm = c.norm == NormKind::RMSNorm ? NormKind::LayerNorm : NormKind::RMSNorm;
    c.dropout = 0;
    configs.push_back({std::string(family_name(f)) + " other bias and norm, no dropout", c});
    c = small(f);
    c.placement = NormPlacement::Post;
    c.final_norm = false;
    c.activation = Activation::ReLU;
    c.tie_embeddings = false;
    c.scale_scores = !c.scale_scores;
    configs.push_back({std::string(family_name(f)) + " post-norm relu untied", c});
    c = small(f);
    c.positions = f == Family::Perceiver ? PositionScheme::Sinusoidal : PositionScheme::Relative;
    c.embedding_norm = true;
    c.n_layers = 3;
    c.n_decoder_layers = 1;
    c.dtype = DType::F64;
    configs.push_back({std::string(family_name(f)) + " other positions, float64", c});
  }
  ModelConfig c = small(Family::BERT);
  c.mlm_head = true;
  configs.push_back({"bert+mlm", c});
  c.tie_embeddings = false;
  configs.push_back({"bert+mlm untied", c});
  return configs;
}

}  // namespace

TEST_CASE("models: parameters per component from the config match the built model exactly") {
  for (auto& [name, cfg] : stats_configs()) {
    INFO(name);
    auto model = make_model(cfg);
    ParameterBreakdown built;
    for (auto& [path, p] : model->named_parameters())
      add_to(built, parameter_component(path), p.numel());
    ParameterBreakdown formula = model_stats(cfg, 16).parameters;
    CHECK(formula.embeddings == built.embeddings);
    CHECK(formula.attention == built.attention);
    CHECK(formula.ffn == built.ffn);
    CHECK(formula.norms == built.norms);
    CHECK(formula.heads == built.heads);
    CHECK(formula.total() == model->parameter_count());
  }
}

TEST_CASE("models: parameter components are read from the parameter paths") {
  CHECK(parameter_component("decoder/layers/1/cross_attn/k_proj/weight") ==
        ParameterComponent::Attention);
  CHECK(parameter_component("encoder/relative_bias/weight") == ParameterComponent::Attention);
  CHECK(parameter_component("decoder/layers/1/cross_attn_norm/weight") ==
        ParameterComponent::Norms);
  CHECK(parameter_component("cross_ffn/fc1/bias") == ParameterComponent::FFN);
  CHECK(parameter_component("encoder/layers/0/ffn_norm/bias") == ParameterComponent::Norms);
  CHECK(parameter_component("embeddings/norm/weight") == ParameterComponent::Norms);
  CHECK(parameter_component("mlm_norm/weight") == ParameterComponent::Heads);
  CHECK(parameter_component("latent_queries") == ParameterComponent::Embeddings);
  CHECK(parameter_component("embeddings/position/weight") == ParameterComponent::Embeddings);
}

TEST_CASE("models: FLOPs and activation bytes per token equal op-level counts of a forward pass") {
  // FlopCount adds 2*m*n*k for every matrix product as it runs; graph_bytes
  // walks the recorded graph. The formulas never see either.
  for (auto& [name, cfg] : stats_configs()) {
    for (int64_t seq : {5, 16}) {
      for (int64_t batch : {1, 3}) {
        INFO(name << " T=" << seq << " B=" << batch);
        auto model = make_model(cfg);
        model->train(true);
        double counted_flops = 0;
        Tensor out;
        {
          FlopCount count;
          out = forward_for_stats(*model, batch, seq);
          counted_flops = count.flops();
        }
        ModelStats s = model_stats(cfg, seq, batch);
        const double tokens = double(batch * seq);
        CHECK(s.forward_flops() * tokens == Approx(counted_flops).epsilon(1e-12));
        CHECK(s.activation_bytes * tokens == Approx(double(graph_bytes(out))).epsilon(1e-12));
      }
    }
  }
}

TEST_CASE("models: FLOPs split into weight products and attention products") {
  // The attention part is exactly the 2 products per head over T keys.
  ModelConfig c = small(Family::GPT);
  const double C = double(c.d_model);
  for (int64_t T : {8, 32}) {
    ModelStats s = model_stats(c, T);
    CHECK(s.attention_flops == Approx(double(c.n_layers) * 2 * 2 * double(T) * C));
    CHECK(s.training_flops() == Approx(3 * s.forward_flops()));
  }
}

TEST_CASE("models: attention cost per sequence is quadratic in T, a Perceiver's linear") {
  for (Family f : {Family::BERT, Family::GPT, Family::T5}) {
    ModelConfig c = small(f);  // per token linear in T -> per sequence quadratic
    CHECK(model_stats(c, 512).attention_flops == Approx(2 * model_stats(c, 256).attention_flops));
  }
  ModelConfig p = small(Family::Perceiver);  // L latents read every token: constant per token
  CHECK(model_stats(p, 512).attention_flops <
        model_stats(p, 256).attention_flops);  // the latents' own share spreads thinner
  CHECK(model_stats(p, 512).forward_flops() * 512 < 2 * model_stats(p, 256).forward_flops() * 256);
}

TEST_CASE("models: KV-cache bytes per generated token") {
  ModelConfig gpt = small(Family::GPT);  // 2 layers x (key + value) x 32 floats
  CHECK(model_stats(gpt, 8).self_cache_bytes_per_token == 2 * 2 * 32 * 4);
  CHECK(model_stats(gpt, 8).cross_cache_bytes_per_source_token == 0);
  ModelConfig t5 = small(Family::T5);
  t5.n_decoder_layers = 3;
  CHECK(model_stats(t5, 8).self_cache_bytes_per_token == 3 * 2 * 32 * 4);
  CHECK(model_stats(t5, 8).cross_cache_bytes_per_source_token == 3 * 2 * 32 * 4);
  CHECK(model_stats(small(Family::BERT), 8).self_cache_bytes_per_token == 0);
}

TEST_CASE("models: layout names each attention with its scores and mask shapes") {
  auto layout = model_layout(small(Family::T5), 7, 3);
  REQUIRE(layout.size() == 2u + 2u + 1u);  // 2 encoder blocks, 2 decoder blocks, head
  CHECK(layout[0].attention.at(0).kind == AttentionKind::BidirectionalSelf);
  CHECK(layout[2].name == "decoder.0");
  REQUIRE(layout[2].attention.size() == 2);
  CHECK(layout[2].attention[0].kind == AttentionKind::CausalSelf);
  CHECK(layout[2].attention[1].kind == AttentionKind::Cross);
  CHECK(layout[2].attention[1].scores == Shape{3, 4, 7, 7});
  CHECK_THAT(layout[2].attention[0].mask, Contains("causal (7,7)"));
  auto perceiver = model_layout(small(Family::Perceiver), 50, 2);
  CHECK(perceiver[0].attention.at(0).kind == AttentionKind::LatentCross);
  CHECK(perceiver[0].attention[0].scores == Shape{2, 4, 16, 50});
  CHECK(perceiver[1].attention.at(0).scores == Shape{2, 4, 16, 16});
}

TEST_CASE("models: parameter names are paths that read like the architecture") {
  T5Model t5(small(Family::T5));
  std::set<std::string> names;
  for (auto& [n, p] : t5.named_parameters()) names.insert(n);
  CHECK(names.count("shared/weight"));
  CHECK(names.count("decoder/layers/0/cross_attn/q_proj/weight"));
  CHECK(names.count("decoder/layers/1/self_attn_norm/weight"));
  CHECK(names.count("encoder/relative_bias/weight"));
  CHECK(names.count("decoder/relative_bias/weight"));
  CHECK_FALSE(
      names.count("encoder/layers/0/cross_attn/q_proj/weight"));  // encoders do not cross-attend
  CHECK_FALSE(names.count("decoder/layers/0/ffn/fc1/bias"));      // T5 has no biases
  GptModel gpt(small(Family::GPT));
  for (auto& [n, p] : gpt.named_parameters()) CHECK(n.find("cross_attn") == std::string::npos);
}

TEST_CASE("models: presets carry each family's defining choices") {
  ModelConfig bert = preset(Family::BERT), gpt = preset(Family::GPT), t5 = preset(Family::T5);
  CHECK(bert.placement == NormPlacement::Post);
  CHECK(bert.positions == PositionScheme::Learned);
  CHECK(gpt.placement == NormPlacement::Pre);
  CHECK(gpt.final_norm);
  CHECK(gpt.tie_embeddings);
  CHECK(t5.norm == NormKind::RMSNorm);
  CHECK(t5.positions == PositionScheme::Relative);
  CHECK_FALSE(t5.bias);
  CHECK(t5.scale_tied_logits);
}

TEST_CASE(
    "models: a Perceiver with relative positions is refused, since its input would get no order") {
  ModelConfig c = preset(Family::Perceiver);
  c.positions = PositionScheme::Relative;
  CHECK_THROWS_WITH(validate(c), Contains("model config 'positions'") && Contains("Perceiver"));
  for (PositionScheme p :
       {PositionScheme::Learned, PositionScheme::Sinusoidal, PositionScheme::None}) {
    c.positions = p;
    CHECK_NOTHROW(validate(c));
  }
}

TEST_CASE(
    "models: config fields refuse partial, negative-unsigned and unknown values and keep the old "
    "value") {
  ModelConfig c = preset(Family::GPT);
  const int64_t before = c.d_model;
  CHECK_THROWS_WITH(set_config_field(c, "d_model", "12x"), Contains("'12x' is not an integer"));
  CHECK_THROWS_WITH(set_config_field(c, "d_model", ""), Contains("'' is not an integer"));
  CHECK(c.d_model == before);
  CHECK_THROWS_WITH(set_config_field(c, "seed", "-1"),
                    Contains("'-1' is not a non-negative integer"));
  CHECK_THROWS_WITH(set_config_field(c, "dropout", "0.1.2"), Contains("'0.1.2' is not a number"));
  CHECK_THROWS_WITH(set_config_field(c, "bias", "maybe"), Contains("'maybe' is not true/false"));
  ModelConfig r = preset(Family::T5);  // the bucket formula divides by log(max / (buckets/2))
  r.relative_max_distance = r.relative_buckets / 2;
  CHECK_THROWS_WITH(validate(r), Contains("model config 'relative_max_distance'") &&
                                     Contains("greater than relative_buckets / 2 = 16"));
  set_config_field(c, "positions", "sinusoidal");
  CHECK(c.positions == PositionScheme::Sinusoidal);
  CHECK(config_to_map(c).at("positions") == "sinusoidal");
}

TEST_CASE("models: config round-trips through its text form and rejects bad values") {
  ModelConfig c = small(Family::T5);
  c.dropout = 0.25;
  c.activation = Activation::GELUTanh;
  ModelConfig back = config_from_map(config_to_map(c));
  CHECK(config_to_map(back) == config_to_map(c));
  CHECK_THROWS_WITH(set_config_field(c, "d_modle", "3"),
                    Contains("unknown model config 'd_modle'"));
  CHECK_THROWS_WITH(
      set_config_field(c, "norm", "batchnorm"),
      Contains("model config 'norm': 'batchnorm' is not one of layernorm or rmsnorm"));
  CHECK_THROWS_WITH(set_config_field(c, "d_model", "12x"),
                    Contains("model config 'd_model': '12x' is not an integer"));
  c.n_heads = 5;
  CHECK_THROWS_WITH(validate(c), Contains("d_model 32 must be divisible by n_heads 5"));
}

TEST_CASE("models: shape errors name the module path and the shapes") {
  GptModel gpt(small(Family::GPT));
  IntTensor too_long{{1, 30}, std::vector<int32_t>(30, 1)};
  CHECK_THROWS_WITH(gpt.decode(too_long, nullptr), Contains("embeddings/position") &&
                                                       Contains("[0, 30)") &&
                                                       Contains("24 entries"));
  IntTensor ids{{2, 3}, {1, 2, 3, 4, 5, 6}};
  Mask wrong{{2, 4}, std::vector<uint8_t>(8, 0)};
  CHECK_THROWS_WITH(gpt.decode(ids, &wrong),
                    Contains("padding mask (2,4) does not match ids (2,3)"));
  IntTensor bad_id{{1, 2}, {1, 40}};
  CHECK_THROWS_WITH(gpt.decode(bad_id, nullptr), Contains("token_embedding") && Contains("id 40"));

  T5Model t5(small(Family::T5));
  IntTensor src{{2, 5}, std::vector<int32_t>(10, 1)}, tgt{{2, 3}, std::vector<int32_t>(6, 1)};
  Tensor memory = t5.encode(src, nullptr);
  Mask enc_pad_wrong{{2, 4}, std::vector<uint8_t>(8, 0)};
  CHECK_THROWS_WITH(t5.decode(tgt, nullptr, &memory, &enc_pad_wrong),
                    Contains("decoder/layers/0/cross_attn") && Contains("key padding mask (2,4)") &&
                        Contains("Tk=5"));
  Tensor narrow = Tensor::zeros({2, 5, 16});
  CHECK_THROWS_WITH(t5.decode(tgt, nullptr, &narrow, nullptr),
                    Contains("encoder output must be (B=2,Ts,C=32)") && Contains("(2,5,16)"));
}

TEST_CASE("layers: cross-attention rejects an encoder of another width") {
  ParamInit init{Generator{1, 0}, 0.02, DType::F32};
  BlockConfig config;  // d_model 64
  config.dropout = 0;
  TransformerBlock block(BlockKind::EncoderDecoder, config, nullptr, init);
  Tensor x = Tensor::zeros({2, 3, 64}), memory = Tensor::zeros({2, 4, 32});
  CHECK_THROWS_WITH(block.forward(x, BlockInputs{nullptr, nullptr, &memory, nullptr}),
                    Contains("keys/values (B=2,Tk,64)") && Contains("(2,4,32)"));
}

TEST_CASE("models: a family's architecture is known before a model is built") {
  for (Family f : {Family::BERT, Family::GPT, Family::T5, Family::Perceiver}) {
    INFO(family_name(f));
    CHECK(architecture_of(f) == make_model(tiny_config(f))->architecture());
  }
  CHECK_THAT(architecture_summary(tiny_config(Family::T5)),
             Catch::Matchers::Contains("1 encoder layers") &&
                 Catch::Matchers::Contains("1 decoder layers"));
  CHECK_THAT(architecture_summary(tiny_config(Family::Perceiver)),
             Catch::Matchers::Contains("3 latents"));
}
