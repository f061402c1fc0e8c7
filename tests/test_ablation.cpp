// Removing attention heads (attnlab ablate): every attention of every family
// is found by kind, and removing a head is exactly zeroing its slice of the
// output projection's input, in the full forward and in cached decoding.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>

#include "cli_process.h"
#include "model_outputs.h"
#include "models/gradcheck_models.h"
#include "models/heads.h"
#include "xml_check.h"

using namespace attnlab;
using model_outputs::ids;
using model_outputs::largest_difference;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

// What the model computes for a fixed batch: class logits, or next-token
// logits (an encoder-decoder's decoder reading its encoder's output).
std::vector<double> outputs(const Model& model) {
  const int32_t v = int32_t(model.config().vocab_size);
  switch (model.architecture()) {
    case Architecture::Classifier:
      return model.classify(ids(2, 5, 1, v), nullptr).to_vector();
    case Architecture::DecoderOnly:
      return model.decode(ids(2, 5, 1, v), nullptr).to_vector();
    case Architecture::EncoderDecoder: {
      const Tensor memory = model.encode(ids(2, 6, 3, v), nullptr);
      return model.decode(ids(2, 4, 1, v), nullptr, &memory).to_vector();
    }
  }
  return {};
}

// The same, decoded a token at a time with the KV cache.
std::vector<double> cached_outputs(const Model& model) {
  const int32_t v = int32_t(model.config().vocab_size);
  const IntTensor tokens = ids(2, 4, 1, v);
  Tensor memory;
  if (model.architecture() == Architecture::EncoderDecoder)
    memory = model.encode(ids(2, 6, 3, v), nullptr);
  DecodeCache cache = model.start_decoding(2, 4, memory.defined() ? &memory : nullptr);
  std::vector<double> out;
  for (int64_t t = 0; t < 4; ++t) {
    const IntTensor step{{2, 1}, {tokens.data[size_t(t)], tokens.data[size_t(4 + t)]}};
    const std::vector<double> logits = model.decode_cached(step, {t, t}, cache).to_vector();
    out.insert(out.end(), logits.begin(), logits.end());
  }
  return out;
}

// Zeroes the columns of `site`'s output projection that read head `head`.
void zero_head_columns(Model& model, const AttentionModule& site, int64_t head) {
  for (auto& [name, weight] : model.named_parameters())
    if (name == site.path + "/out_proj/weight") {
      const int64_t c = weight.size(1), d = c / site.attention->heads();
      double* w = weight.data<double>();
      for (int64_t row = 0; row < weight.size(0); ++row)
        for (int64_t col = head * d; col < (head + 1) * d; ++col) w[row * c + col] = 0;
      return;
    }
  FAIL("no output projection at " << site.path);
}

}  // namespace

TEST_CASE("ablation: every family's attentions are listed by kind and layer") {
  const std::map<Family, std::vector<std::string>> expected = {
      {Family::BERT, {"encoder self"}},
      {Family::GPT, {"decoder self"}},
      {Family::T5, {"encoder self", "decoder self", "cross"}},
      {Family::Perceiver, {"latent cross", "latent self"}}};
  for (const auto& [family, kinds] : expected) {
    INFO(family_name(family));
    const std::shared_ptr<Model> model = make_model(tiny_config(family));
    std::vector<std::string> got;
    for (const AttentionModule& site : attention_sites(*model)) got.push_back(site.kind);
    CHECK(got == kinds);
  }
  ModelConfig deeper = tiny_config(Family::T5);
  deeper.n_layers = deeper.n_decoder_layers = 2;
  const std::shared_ptr<Model> t5 = make_model(deeper);
  std::vector<std::string> paths;
  std::vector<int64_t> layers;
  for (const AttentionModule& site : attention_sites(*t5)) {
    paths.push_back(site.path);
    layers.push_back(site.layer);
  }
  CHECK(paths ==
        std::vector<std::string>{"encoder/layers/0/self_attn", "encoder/layers/1/self_attn",
                                 "decoder/layers/0/self_attn", "decoder/layers/0/cross_attn",
                                 "decoder/layers/1/self_attn", "decoder/layers/1/cross_attn"});
  CHECK(layers == std::vector<int64_t>{0, 1, 0, 0, 1, 1});
}

TEST_CASE("ablation: removing a head is zeroing its slice of the output projection's input") {
  for (const Family family : {Family::BERT, Family::GPT, Family::T5, Family::Perceiver}) {
    const std::shared_ptr<Model> model = make_model(tiny_config(family));
    const std::shared_ptr<Model> zeroed =
        make_model(tiny_config(family));  // same seed, same weights
    model->eval();
    zeroed->eval();
    const std::vector<double> intact = outputs(*model);
    const std::vector<AttentionModule> sites = attention_sites(*model);
    const std::vector<AttentionModule> zeroed_sites = attention_sites(*zeroed);
    for (size_t s = 0; s < sites.size(); ++s) {
      const int64_t head = sites[s].attention->heads() - 1;
      INFO(family_name(family) << " " << sites[s].path << " head " << head);
      sites[s].attention->set_ablation(HeadAblation{{head}, {}});
      zero_head_columns(*zeroed, zeroed_sites[s], head);
      const std::vector<double> ablated = outputs(*model);
      CHECK(largest_difference(ablated, outputs(*zeroed)) < 1e-12);
      CHECK(largest_difference(ablated, intact) > 1e-6);  // the head did something
      if (model->architecture() != Architecture::Classifier)
        CHECK(largest_difference(cached_outputs(*model), cached_outputs(*zeroed)) < 1e-12);
      sites[s].attention->set_ablation(std::nullopt);
      CHECK(largest_difference(outputs(*model), intact) == 0);  // cleared: the model as it was
      // Undo the zeroing: a fresh copy of the weights for the next site.
      const std::shared_ptr<Model> fresh = make_model(tiny_config(family));
      auto target = zeroed->named_parameters();
      auto source = fresh->named_parameters();
      for (size_t p = 0; p < target.size(); ++p) {
        double* to = target[p].second.data<double>();
        const double* from = source[p].second.data<double>();
        std::copy(from, from + target[p].second.numel(), to);
      }
    }
  }
}

TEST_CASE(
    "ablation: a mean fill replaces a head by the outputs it was given, and bad heads are "
    "named") {
  const std::shared_ptr<Model> model = make_model(tiny_config(Family::GPT));
  model->eval();
  MultiHeadAttention& attention = *attention_sites(*model).front().attention;
  // Recorded sums over the batch: their mean is the fill mean ablation uses.
  HeadOutputSums sums;
  attention.record_head_outputs(&sums);
  const std::vector<double> intact = outputs(*model);
  attention.record_head_outputs(nullptr);
  const int64_t c = model->config().d_model;
  REQUIRE(int64_t(sums.sum.size()) == c);
  CHECK(sums.positions == 2 * 5);
  std::vector<double> mean;
  for (const double s : sums.sum) mean.push_back(s / double(sums.positions));
  attention.set_ablation(HeadAblation{{0}, mean});
  const std::vector<double> mean_ablated = outputs(*model);
  attention.set_ablation(HeadAblation{{0}, {}});
  CHECK(largest_difference(mean_ablated, outputs(*model)) > 1e-9);  // a mean is not a zero
  CHECK(largest_difference(mean_ablated, intact) > 1e-9);

  CHECK_THROWS_WITH(attention.set_ablation(HeadAblation{{9}, {}}),
                    Contains("decoder/layers/0/self_attn") && Contains("head 9 does not exist"));
  CHECK_THROWS_WITH(attention.set_ablation(HeadAblation{{0}, {1.0, 2.0}}),
                    Contains("fill has 2 values"));
}

TEST_CASE("ablation: attnlab ablate removes a trained T5's cross-attention and it cannot sort") {
  const fs::path dir = cli_test::fresh_dir("ablate_cli");
  const fs::path out = dir / "t5";
  cli_test::Run r = cli_test::run(fmt::format(
      "train --model t5 --task sort --train-size 4000 --valid-size 100 --d-model 64 --heads 2 "
      "--d-ff 128 --layers 1 --decoder-layers 1 --batch-size 32 --lr 3e-3 --steps 600 "
      "--eval-every 0 --quiet --out {}",
      out.string()));
  REQUIRE(r.exit_code == 0);
  r = cli_test::run(fmt::format("ablate --ckpt {} --heads cross --format jsonl", out.string()));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::vector<attnlab::Json> lines = cli_test::json_lines(r.output);
  REQUIRE(lines.size() == 2);
  const double intact = lines[0].at("token_accuracy"), without = lines[1].at("token_accuracy");
  // Sorting needs the source: without cross-attention the decoder guesses
  // (it still knows which letters are likely, and that the output is sorted).
  CHECK(intact > 0.7);
  CHECK(without < 0.5 * intact);
  CHECK(lines[0].at("exact_match").get<double>() > 0.1);
  CHECK(lines[1].at("exact_match").get<double>() == 0);
  CHECK(lines[1].at("loss").get<double>() > lines[0].at("loss").get<double>());
  CHECK(lines[1].at("heads").size() == 1);
  CHECK(lines[1].at("heads")[0].at("kind") == "cross");

  // Every head, one at a time, as a table; the same table twice.
  r = cli_test::run(fmt::format("ablate --ckpt {} --all-heads --mode mean", out.string()));
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("none (intact)") && Contains("encoder self 0.1") &&
                           Contains("cross 0.0") && Contains("their mean output"));
  CHECK(
      cli_test::run(fmt::format("ablate --ckpt {} --all-heads --mode mean", out.string())).output ==
      r.output);

  // --out: the table, and one blocks x heads picture per kind of attention,
  // each cell the change its head's removal made.
  const fs::path pics = dir / "pics";
  const cli_test::Run pictured = cli_test::run(
      fmt::format("ablate --ckpt {} --all-heads --out {}", out.string(), pics.string()));
  REQUIRE(pictured.exit_code == 0);
  for (const char* name :
       {"ablation.md", "heads-encoder-self.svg", "heads-decoder-self.svg", "heads-cross.svg"}) {
    INFO(name);
    REQUIRE(fs::exists(pics / name));
  }
  CHECK(cli_test::read_text(pics / "ablation.md").find("none (intact)") != std::string::npos);
  const std::string cross_svg = cli_test::read_text(pics / "heads-cross.svg");
  std::map<std::string, int> elements;
  CHECK(xml_check::check(cross_svg, &elements) == "");
  // Zeroing: the table's change for cross 0.0 is the cell's text.
  const cli_test::Run zero_table =
      cli_test::run(fmt::format("ablate --ckpt {} --heads cross:0:0 --format jsonl", out.string()));
  const std::vector<attnlab::Json> cross00 = cli_test::json_lines(zero_table.output);
  REQUIRE(cross00.size() == 2);
  const double drop = 100 * (cross00[1].at("exact_match").get<double>() -
                             cross00[0].at("exact_match").get<double>());
  CHECK_THAT(cross_svg, Contains(fmt::format(">{:+.1f}<", std::fabs(drop) < 0.05 ? 0.0 : drop)));
  CHECK_THAT(cross_svg, Contains("block 0, head 0"));

  // What cannot be removed is named.
  for (const auto& [args, message] : {std::pair{"--heads latent", "no such attention"},
                                      std::pair{"--heads cross:0:5", "heads 0..1"},
                                      std::pair{"--heads nope", "'nope' is no kind"},
                                      std::pair{"", "--heads LIST, or --all-heads"},
                                      std::pair{"--heads cross --mode median", "--mode"}}) {
    INFO(args);
    r = cli_test::run(fmt::format("ablate --ckpt {} {}", out.string(), args));
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains(message));
  }
  fs::remove_all(dir);
}

TEST_CASE("ablation: a T5 that writes dates exactly writes none without its cross-attention") {
  const fs::path dir = cli_test::fresh_dir("ablate_dates");
  const fs::path out = dir / "t5";
  cli_test::Run r = cli_test::run(fmt::format(
      "train --model t5 --task dates --train-size 8000 --valid-size 100 --d-model 64 --heads 2 "
      "--d-ff 128 --layers 2 --decoder-layers 1 --batch-size 32 --lr 3e-3 --steps 1500 "
      "--eval-every 0 --quiet --out {}",
      out.string()));
  REQUIRE(r.exit_code == 0);
  r = cli_test::run(fmt::format("ablate --ckpt {} --heads cross --format jsonl", out.string()));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::vector<attnlab::Json> lines = cli_test::json_lines(r.output);
  REQUIRE(lines.size() == 2);
  // Every date's digits come from the source, which only cross-attention reads.
  CHECK(lines[0].at("exact_match").get<double>() > 0.9);
  CHECK(lines[1].at("exact_match").get<double>() < 0.05);
  fs::remove_all(dir);
}
