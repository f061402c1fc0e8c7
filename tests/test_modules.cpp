// Module naming: parameters and submodules by name, paths, rejections.
#include <catch2/catch.hpp>

#include "layers/block.h"

using namespace attnlab;
using Catch::Matchers::Contains;

namespace {
struct Leaf : Module {
  explicit Leaf(ParamInit& init) { register_parameter("weight", init.zeros({2})); }
};
struct Parent : Module {
  std::shared_ptr<Leaf> child;
  explicit Parent(ParamInit& init) {
    child = register_module("child", std::make_shared<Leaf>(init));
    register_parameter("scale", init.ones({1}));
  }
  void add_param(const std::string& name, ParamInit& init) {
    register_parameter(name, init.zeros({1}));
  }
  void add_module(const std::string& name, ParamInit& init) {
    register_module(name, std::make_shared<Leaf>(init));
  }
};
}  // namespace

TEST_CASE("modules: parameters are named by their paths, in registration order") {
  ParamInit init;
  Parent p(init);
  auto named = p.named_parameters();
  REQUIRE(named.size() == 2);
  CHECK(named[0].first == "scale");
  CHECK(named[1].first == "child/weight");
  CHECK(p.child->path() == "child");
  CHECK(named[1].second.requires_grad());
  CHECK(p.parameter_count() == 3);
}

TEST_CASE("modules: empty, duplicate and slash names are rejected") {
  ParamInit init;
  Parent p(init);
  CHECK_THROWS_WITH(p.add_param("", init), Contains("empty"));
  CHECK_THROWS_WITH(p.add_param("scale", init), Contains("duplicate name 'scale'"));
  CHECK_THROWS_WITH(p.add_module("child", init), Contains("duplicate name 'child'"));
  CHECK_THROWS_WITH(p.add_param("a/b", init), Contains("must not contain '/'"));
}

TEST_CASE("modules: nested blocks get full paths, train/eval reaches every submodule") {
  ParamInit init;
  BlockConfig c;
  c.dim = 8;
  c.heads = 2;
  c.ffn_dim = 8;
  auto rng = std::make_shared<Generator>();
  ModuleList<TransformerBlock> layers;
  layers.push_back(std::make_shared<TransformerBlock>(BlockKind::EncoderDecoder, c, rng, init));
  layers.push_back(std::make_shared<TransformerBlock>(BlockKind::Encoder, c, rng, init));
  std::vector<std::string> names;
  for (auto& [n, t] : layers.named_parameters()) names.push_back(n);
  CHECK(std::find(names.begin(), names.end(), "0/cross_attn/k_proj/weight") != names.end());
  CHECK(std::find(names.begin(), names.end(), "1/ffn/fc2/bias") != names.end());
  layers.eval();
  CHECK_FALSE(layers[1].is_training());
  // Eval mode disables dropout: two forward passes agree exactly.
  Tensor x = rand_normal({1, 3, 8}, init.gen, 0, 1);
  CHECK(layers[1].forward(x, {}).to_vector() == layers[1].forward(x, {}).to_vector());
  layers.train();
  CHECK(layers[1].forward(x, {}).to_vector() != layers[1].forward(x, {}).to_vector());
}
