// Attention statistics over a data set (trace --valid, train --trace-every):
// hand-computed values for a made-up trace, and the command's HDF5 file.
#include <catch2/catch.hpp>

#include <cmath>

#include "cli_process.h"
#include "framing/attention_statistics.h"
#include "io/hdf5.h"
#include "report/attention_curves.h"
#include "xml_check.h"

using namespace attnlab;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;

namespace {

Trace made_up_trace(const std::vector<double>& cross) {
  Trace t;
  t.axes = {{"sequence", {"<bos>", "a", "b"}},
            {"decoder", {"<bos>", "x"}},
            {"input", {"p", "q", "<eos>"}}};
  // causal self over <bos> a b: each row sums to 1
  t.maps.push_back(
      {"decoder/layers/0/self_attn", "causal self", "sequence", "sequence",
       Tensor::from_vector({1, 0, 0, 0.5, 0.5, 0, 0, 0.25, 0.75}, {1, 3, 3}, DType::F64)});
  t.maps.push_back({"decoder/layers/0/cross_attn", "cross", "decoder", "input",
                    Tensor::from_vector(cross, {1, 2, 3}, DType::F64)});
  return t;
}

}  // namespace

TEST_CASE("attention statistics: entropy, distance, special share and monotonicity by hand") {
  AttentionStatistics stats;
  // The cross rows' strongest keys: 2 then 0 (moves back), then 0 then 1.
  stats.add(made_up_trace({0.1, 0.2, 0.7, 0.6, 0.3, 0.1}));
  stats.add(made_up_trace({0.8, 0.1, 0.1, 0.0, 1.0, 0.0}));
  REQUIRE(stats.examples == 2);
  REQUIRE(stats.maps.size() == 2);
  const MapStatistics& self = stats.maps[0];
  // Rows: -sum p ln p = 0, ln 2, and 0.25 ln 4 + 0.75 ln(4/3); the two traces alike.
  const double row2 = 0.25 * std::log(4.0) + 0.75 * std::log(4.0 / 3.0);
  CHECK_THAT(self.entropy()[0], WithinAbs((std::log(2.0) + row2) / 3, 1e-12));
  CHECK_THAT(self.distance()[0], WithinAbs((0 + 0.5 + 0.25) / 3, 1e-12));
  CHECK_THAT(self.special_share()[0], WithinAbs((1 + 0.5 + 0) / 3, 1e-12));  // on <bos>
  CHECK(std::isnan(self.monotonicity()[0]));
  const MapStatistics& cross = stats.maps[1];
  CHECK(std::isnan(cross.distance()[0]));                      // two sequences: no distance
  CHECK_THAT(cross.monotonicity()[0], WithinAbs(0.5, 1e-12));  // back once, forward once
  CHECK_THAT(cross.special_share()[0], WithinAbs((0.7 + 0.1 + 0.1 + 0.0) / 4, 1e-12));  // <eos>
  CHECK(is_special_token("<sep>"));
  CHECK_FALSE(is_special_token("<unk>"));
  CHECK_FALSE(is_special_token("a"));
}

TEST_CASE("attention statistics: trace --valid writes every head's statistics to HDF5") {
  const fs::path dir = cli_test::fresh_dir("trace_valid");
  const fs::path run = dir / "t5";
  cli_test::Run r = cli_test::run(fmt::format(
      "train --model t5 --task dates --train-size 1000 --valid-size 40 --d-model 32 --heads 2 "
      "--d-ff 64 --layers 1 --batch-size 32 --steps 30 --eval-every 0 --quiet --out {}",
      run.string()));
  REQUIRE(r.exit_code == 0);
  const fs::path out = dir / "stats.h5";
  r = cli_test::run(
      fmt::format("trace --ckpt {} --valid --examples 25 --out {}", run.string(), out.string()));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("25 examples on their reference pairs") &&
                           Contains("decoder/layers/0/cross_attn"));
  H5File f = H5File::open_read(out.string());
  CHECK(f.get_attribute("/", "format") == "attnlab-attention-statistics");
  CHECK(f.get_attribute("/", "examples") == "25");
  for (const char* map : {"encoder/layers/0/self_attn", "decoder/layers/0/self_attn",
                          "decoder/layers/0/cross_attn"}) {
    INFO(map);
    const std::string path = std::string("attention/") + map;
    const std::vector<double> entropy = f.read<double>(path + "/entropy", {2});
    REQUIRE(entropy.size() == 2);
    for (double e : entropy) CHECK((e >= 0 && e < std::log(64.0)));
    for (double s : f.read<double>(path + "/special_share", {2})) CHECK((s >= 0 && s <= 1 + 1e-9));
    const bool cross = std::string(map).find("cross") != std::string::npos;
    CHECK(f.exists(path + "/monotonicity") == cross);
    CHECK(f.exists(path + "/distance") == !cross);
  }
  f.close();
  for (const auto& [args, message] :
       {std::pair{"--valid --input x", "--input TEXT for one example, or --valid"},
        std::pair{"--input x --examples 3", "go with --valid"},
        std::pair{"--valid --svg pics", "--svg draws one input"}}) {
    INFO(args);
    r = cli_test::run(
        fmt::format("trace --ckpt {} {} --out {}", run.string(), args, (dir / "x.h5").string()));
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains(message));
  }
  fs::remove_all(dir);
}

TEST_CASE("attention statistics: train --trace-every logs them, changes nothing, plot draws them") {
  const fs::path dir = cli_test::fresh_dir("trace_every");
  const std::string common =
      "train --model gpt --task dates --train-size 1000 --valid-size 40 --d-model 32 --heads 2 "
      "--d-ff 64 --layers 2 --batch-size 16 --steps 40 --eval-every 20 --log-every 10 --quiet";
  cli_test::Run r = cli_test::run(fmt::format("{} --trace-every 10 --trace-examples 8 --out {}",
                                              common, (dir / "traced").string()));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  r = cli_test::run(fmt::format("{} --out {}", common, (dir / "plain").string()));
  REQUIRE(r.exit_code == 0);
  const auto lines_of = [&](const char* run, const char* split) {
    std::vector<Json> out;
    for (const Json& j : cli_test::json_lines(cli_test::read_text(dir / run / "metrics.jsonl")))
      if (j.value("split", "") == split) out.push_back(j);
    return out;
  };
  const std::vector<Json> traced = lines_of("traced", "attention");
  REQUIRE(traced.size() == 5);  // steps 0 (as initialised), 10, 20, 30, 40
  for (size_t i = 0; i < traced.size(); ++i) {
    CHECK(traced[i].at("step") == int64_t(10 * i));
    CHECK(traced[i].at("examples") == 8);
    REQUIRE(traced[i].at("maps").size() == 2);
    CHECK(traced[i].at("maps")[1].at("name") == "decoder/layers/1/self_attn");
    CHECK(traced[i].at("maps")[1].at("entropy").size() == 2);
    CHECK(traced[i].at("maps")[1].at("distance").size() == 2);
  }
  // The heads change as they train.
  CHECK(traced.front().at("maps")[0].at("entropy") != traced.back().at("maps")[0].at("entropy"));
  // Tracing reads the model; it does not change the run.
  const auto train_losses = [&](const char* run) {
    std::vector<double> out;
    for (const Json& j : lines_of(run, "train")) out.push_back(j.at("loss"));
    return out;
  };
  CHECK(train_losses("traced") == train_losses("plain"));
  CHECK(lines_of("plain", "attention").empty());

  r = cli_test::run(fmt::format("plot --trace {} --out {}", (dir / "traced").string(),
                                (dir / "attention.svg").string()));
  REQUIRE(r.exit_code == 0);
  const std::string svg = cli_test::read_text(dir / "attention.svg");
  CHECK(xml_check::check(svg) == "");
  CHECK_THAT(svg, Contains("decoder/layers/1/self_attn entropy") &&
                      Contains("decoder/layers/0/self_attn distance") && Contains("head 1") &&
                      Contains("decoder/layers/0/self_attn special_share"));
  r = cli_test::run(fmt::format("plot --trace {} --out {}", (dir / "plain").string(),
                                (dir / "none.svg").string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("--trace-every"));
  // Stopped at step 20 and resumed: the same statistics at the same steps.
  r = cli_test::run(fmt::format("{} --trace-every 10 --trace-examples 8 --stop-at 20 --out {}",
                                common, (dir / "resumed").string()));
  REQUIRE(r.exit_code == 0);
  r = cli_test::run(fmt::format("train --resume --quiet --out {}", (dir / "resumed").string()));
  REQUIRE(r.exit_code == 0);
  const std::vector<Json> resumed = lines_of("resumed", "attention");
  REQUIRE(resumed.size() == traced.size());
  for (size_t i = 0; i < resumed.size(); ++i) CHECK(resumed[i].at("maps") == traced[i].at("maps"));

  // At each evaluation: steps 20 and 40 (and step 0).
  r = cli_test::run(fmt::format("{} --trace-every -1 --trace-examples 4 --out {}", common,
                                (dir / "at-eval").string()));
  REQUIRE(r.exit_code == 0);
  std::vector<int64_t> steps;
  for (const Json& j : lines_of("at-eval", "attention")) steps.push_back(j.at("step"));
  CHECK(steps == std::vector<int64_t>{0, 20, 40});
  fs::remove_all(dir);
}

TEST_CASE("attention statistics: plot leaves out the special-token share when no head has any") {
  using attnlab::report::AttentionCurves;
  AttentionCurves curves;
  curves.maps.push_back({"decoder/layers/0/self_attn", "causal self", {}});
  curves.maps[0].measures = {{"entropy", {{{0, 3.0}, {10, 2.0}}}},
                             {"distance", {{{0, 9.0}, {10, 4.0}}}},
                             {"special_share", {{{0, 0.0}, {10, 0.0}}}}};
  CHECK_FALSE(attnlab::report::special_share_seen(curves));
  CHECK(attnlab::report::attention_panels(curves).size() == 2);  // entropy, distance
  curves.maps[0].measures[2].second[0][1].second = 0.25;
  CHECK(attnlab::report::special_share_seen(curves));
  CHECK(attnlab::report::attention_panels(curves).size() == 3);
}
