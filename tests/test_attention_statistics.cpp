// Attention statistics over a data set (trace --valid, train --trace-every):
// hand-computed values for a made-up trace, and the command's HDF5 file.
#include <catch2/catch.hpp>

#include <cmath>

#include "cli_process.h"
#include "framing/attention_statistics.h"
#include "io/hdf5.h"

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
