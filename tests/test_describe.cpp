// `attnlab describe` as a user runs it: the tables, the numbers they carry
// (checked against built models, not against the formulas' own output), and
// its option errors.
#include <fmt/format.h>

#include <catch2/catch.hpp>

#include "cli_process.h"
#include "models/model.h"

using Catch::Matchers::Contains;
using namespace cli_test;
using namespace attnlab;

namespace {
std::string commas(int64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}
}  // namespace

TEST_CASE("describe: all four families side by side, with attention kinds and mask shapes") {
  Run r = run("describe --model all --seq 16 --batch 2");
  REQUIRE(r.exit_code == 0);
  for (const char* s :
       {"## bert", "## gpt", "## t5", "## perceiver", "## Side by side", "bidirectional self",
        "causal self", "| cross ", "latent cross", "padding (2,1,1,16)", "causal (16,16) triangle",
        "(2,4,16,16)", "(2,4,16,16)", "KV cache / generated token"})
    CHECK_THAT(r.output, Contains(s));
  // The parameter totals are those of the models the presets build.
  for (Family f : {Family::BERT, Family::GPT, Family::T5, Family::Perceiver})
    CHECK_THAT(r.output, Contains(commas(make_model(preset(f))->parameter_count())));
}

TEST_CASE("describe: model options apply, lengths scale, and --measure runs the model") {
  Run r =
      run("describe --model gpt,perceiver --d-model 32 --heads 2 --d-ff 64 --batch 2 "
          "--lengths 16,32 --measure --repeats 1 --threads 1");
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("d_model 32, 2 heads, d_ff 64"));
  CHECK_THAT(r.output, Contains("## Scaling with sequence length (B=2)"));
  CHECK_THAT(r.output, Contains("measured fwd+bwd"));
  CHECK_THAT(r.output, Contains(" ms |"));
  ModelConfig c = preset(Family::GPT);
  c.d_model = 32;
  c.n_heads = 2;
  c.d_ff = 64;
  CHECK_THAT(r.output, Contains(commas(make_model(c)->parameter_count())));
}

TEST_CASE("describe: bad options are named") {
  Run r = run("describe --model lstm");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("lstm"));
  r = run("describe --model gpt --measure");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("--measure needs --lengths"));
  r = run("describe --lengths 64,x");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("'x' is not a positive integer"));
  r = run("describe --model gpt --heads 3");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("gpt model") && Contains("divisible"));
  r = run("describe --model gpt --seq 512 --max-len 128");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("--max-len 128 is shorter"));
}
