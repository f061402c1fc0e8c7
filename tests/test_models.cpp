// Model construction: names, counts, FLOPs, configs and shape errors.
#include <catch2/catch.hpp>
#include <set>

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
}  // namespace

TEST_CASE("models: parameter count from the config matches the parameter tensors") {
  std::vector<std::pair<std::string, ModelConfig>> configs;
  for (Family f : {Family::BERT, Family::GPT, Family::T5, Family::Perceiver})
    configs.push_back({family_name(f), small(f)});
  ModelConfig c = small(Family::BERT);
  c.mlm_head = true;
  configs.push_back({"bert+mlm", c});
  c.tie_embeddings = false;
  configs.push_back({"bert+mlm untied", c});
  c = small(Family::GPT);
  c.tie_embeddings = false;
  c.positions = PositionScheme::Sinusoidal;
  c.norm = NormKind::RMSNorm;
  configs.push_back({"gpt untied sinusoidal rmsnorm", c});
  c = small(Family::T5);
  c.positions = PositionScheme::Learned;
  c.bias = true;
  c.n_decoder_layers = 3;
  configs.push_back({"t5 learned biased", c});
  for (auto& [name, cfg] : configs) {
    INFO(name);
    auto model = make_model(cfg);
    CHECK(model_stats(cfg, 16).parameters == model->parameter_count());
  }
}

TEST_CASE("models: dense FLOPs per token equal 2 x the weight matrices a token passes through") {
  // GPT and T5 (source length = target length): every 2-D weight is applied
  // once per token, the tied embedding once as the LM head, and position
  // tables are lookups, not products.
  for (Family f : {Family::GPT, Family::T5}) {
    ModelConfig c = small(f);
    auto model = make_model(c);
    double from_tensors = 0;
    for (auto& [name, p] : model->named_parameters()) {
      if (p.dim() != 2 || name.find("position") != std::string::npos ||
          name.find("relative_bias") != std::string::npos)
        continue;
      from_tensors += 2.0 * p.numel();
    }
    INFO(family_name(f));
    ModelStats s = model_stats(c, 16);
    CHECK(s.dense_flops == Approx(from_tensors));
    CHECK(s.attention_flops > 0);
    CHECK(s.training_flops() == Approx(3 * s.forward_flops()));
  }
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
