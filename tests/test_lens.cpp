// The logit lens (attnlab lens): the last decoder block read through the lens
// is the model's own output, and the command's table and JSON say so for a
// trained model.
#include <catch2/catch.hpp>

#include <cmath>

#include "cli_process.h"
#include "model_outputs.h"
#include "models/gradcheck_models.h"

using namespace attnlab;
using model_outputs::ids;
using model_outputs::largest_difference;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

TEST_CASE("lens: the last decoder block through the lens is the model's output, GPT and T5") {
  for (const Family family : {Family::GPT, Family::T5}) {
    INFO(family_name(family));
    ModelConfig config = tiny_config(family);
    config.n_layers = config.n_decoder_layers = 2;
    const std::shared_ptr<Model> model = make_model(config);
    model->eval();
    const int32_t v = int32_t(config.vocab_size);
    std::vector<BlockAttention> blocks;
    Tensor logits;
    if (family == Family::GPT) {
      logits = model->decode(ids(2, 5, 1, v, 5), nullptr, nullptr, nullptr, &blocks);
    } else {
      const Tensor memory = model->encode(ids(2, 6, 3, v, 5), nullptr);
      logits = model->decode(ids(2, 4, 1, v, 5), nullptr, &memory, nullptr, &blocks);
    }
    REQUIRE(blocks.size() == 2);
    const Tensor last = model->lens_logits(blocks.back().output);  // (B,T,V)
    CHECK(last.shape() == logits.shape());
    CHECK(largest_difference(last.to_vector(), logits.to_vector()) < 1e-12);
    // An earlier block's reading is its own, not the output's.
    CHECK(largest_difference(model->lens_logits(blocks.front().output).to_vector(),
                             logits.to_vector()) > 1e-6);
  }
  const std::shared_ptr<Model> bert = make_model(tiny_config(Family::BERT));
  CHECK_THROWS_WITH(bert->lens_logits(Tensor::zeros({1, 2, tiny_config(Family::BERT).d_model})),
                    Contains("lens_logits") && Contains("decoder"));
}

TEST_CASE("lens: attnlab lens reads every GPT block, and the last one writes the prediction") {
  const fs::path dir = cli_test::fresh_dir("lens_cli");
  const fs::path out = dir / "gpt";
  cli_test::Run r = cli_test::run(fmt::format(
      "train --model gpt --task dates --train-size 2000 --valid-size 50 --d-model 32 --heads 2 "
      "--d-ff 64 --layers 3 --batch-size 32 --lr 3e-3 --steps 150 --eval-every 0 --quiet --out {}",
      out.string()));
  REQUIRE(r.exit_code == 0);
  const std::string input = "Wed 17 Jun 1987";
  r = cli_test::run(fmt::format("predict --ckpt {} --format jsonl \"{}\"", out.string(), input));
  REQUIRE(r.exit_code == 0);
  const Json prediction = cli_test::first_json(r.output);
  std::string predicted;
  for (const Json& token : prediction.at("tokens")) predicted += token.get<std::string>();
  r = cli_test::run(fmt::format(
      "lens --ckpt {} --input \"{}\" --format jsonl --positions 0 --top 3", out.string(), input));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::vector<Json> cells = cli_test::json_lines(r.output);
  // BOS, the 15 characters, SEP and the prediction, each read from the
  // embedded tokens and after each of 3 blocks.
  const size_t positions = 1 + input.size() + 1 + predicted.size();
  REQUIRE(cells.size() == 4 * positions);
  CHECK(cells.front().at("block") == "embeddings");
  std::string written;
  for (const Json& c : cells) {
    REQUIRE(c.at("top").size() == 3);
    const double p = c.at("p_predicted");
    CHECK(p >= 0);
    CHECK(p <= 1);
    if (c.at("block") != "decoder/layers/2") continue;
    // The last block's most likely token is the prediction, at rank 1.
    CHECK(c.at("top")[0].at("token") == c.at("predicts"));
    CHECK(c.at("rank_predicted") == 1);
    CHECK(std::fabs(c.at("top")[0].at("p").get<double>() - p) < 1e-12);
    const size_t pos = c.at("position");
    if (pos >= 1 + input.size() && pos + 1 < positions)
      written += c.at("predicts").get<std::string>();
  }
  CHECK(written == predicted);

  r = cli_test::run(fmt::format("lens --ckpt {} --input \"{}\" --svg {}", out.string(), input,
                                (dir / "lens.svg").string()));
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("block 2") && Contains("<sep>"));
  CHECK(fs::exists(dir / "lens.svg"));
  CHECK_THAT(cli_test::read_text(dir / "lens.svg"),
             Contains("block 2, position (the token it reads)"));
  r = cli_test::run(fmt::format("lens --ckpt {} --input x --top 0", out.string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("--top"));
  // An encoder has no decoder to read.
  const fs::path bert = dir / "bert";
  REQUIRE(
      cli_test::run(fmt::format("train --model bert --task brackets --d-model 16 --heads 2 "
                                "--d-ff 32 --layers 1 --steps 2 --eval-every 0 --quiet --out {}",
                                bert.string()))
          .exit_code == 0);
  r = cli_test::run(fmt::format("lens --ckpt {} --input \"(())\"", bert.string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("bert/best.h5") && Contains("a bert model has no decoder"));
  fs::remove_all(dir);
}
