// `attnlab train --tune MINUTES`: the candidates around a run's settings,
// the choice of the best on held-out data, and the run it keeps.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "cli_process.h"
#include "study/tune.h"

using Catch::Matchers::Contains;
using namespace cli_test;
namespace fs = std::filesystem;
using attnlab::Json;
using attnlab::SelectMetric;
using attnlab::TrainConfig;
using attnlab::study::TunedRun;

TEST_CASE("tune: the learning rate and dropout around the run's, what the user gave kept") {
  TrainConfig base;
  base.model = attnlab::Family::BERT;
  base.task_kind = attnlab::data::TaskKind::Classification;
  base.lr = 3e-3;
  base.model_overrides["dropout"] = "0.1";
  base.out = "runs/x";
  const auto axes = attnlab::study::tune_axes(base, {});
  REQUIRE(axes.size() == 3);
  CHECK(axes[0].values == std::vector<std::string>{"0.001", "0.003", "0.009"});
  CHECK(axes[1].values == std::vector<std::string>{"0.1", "0.3"});
  CHECK(axes[2].option == "mlm-weight");
  const auto fixed = attnlab::study::tune_axes(base, {"lr", "mlm-weight"});
  REQUIRE(fixed.size() == 1);
  CHECK(fixed[0].option == "dropout");
  const auto candidates = attnlab::study::tune_candidates(base, fixed, 3.0);
  REQUIRE(candidates.size() == 2);
  CHECK(candidates[1].config.model_overrides.at("dropout") == "0.3");
  CHECK(candidates[1].config.lr == 3e-3);
  CHECK(candidates[0].config.minutes == 1.5);
  CHECK(candidates[1].config.out == (fs::path("runs/x") / "tune" / "drop0.3").string());
  base.model = attnlab::Family::GPT;  // no auxiliary masked-LM loss outside BERT
  CHECK(attnlab::study::tune_axes(base, {}).size() == 2);
}

TEST_CASE("tune: the best run is the highest score, or the lowest loss") {
  std::vector<TunedRun> runs(3);
  const double values[] = {0.7, 0.9, 0.8};
  for (size_t i = 0; i < runs.size(); ++i) {
    runs[i].result.best_metric = values[i];
    runs[i].metric = SelectMetric::Accuracy;
  }
  CHECK(attnlab::study::best_tuned_run(runs) == 1);
  for (TunedRun& r : runs) r.metric = SelectMetric::Loss;
  CHECK(attnlab::study::best_tuned_run(runs) == 0);
}

TEST_CASE("tune: train --tune trains every candidate and keeps the best in --out") {
  const fs::path out = fresh_dir("tune_run");
  const std::string args = fmt::format(
      "train --model bert --task brackets --train-size 2000 --lr 2e-3 --mlm-weight 0 "
      "--d-model 16 --heads 2 --d-ff 32 --layers 1 --batch-size 16 --eval-every 50 --quiet "
      "--tune 0.2 --out {}",
      out.string());
  const Run r = run(args);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::vector<Json> lines = json_lines(read_text(out / "tune.jsonl"));
  REQUIRE(lines.size() == 2);  // dropout 0 and 0.2: the learning rate was given
  const size_t chosen = lines[0]["chosen"].get<bool>() ? 0 : 1;
  CHECK(lines[1 - chosen]["chosen"] == false);
  CHECK(lines[chosen]["best"].get<double>() >= lines[1 - chosen]["best"].get<double>());
  // --out holds the chosen candidate's run, file for file.
  const fs::path from = lines[chosen]["run"].get<std::string>();
  for (const char* file : {"checkpoint.h5", "best.h5", "metrics.jsonl"})
    CHECK(read_text(out / file) == read_text(from / file));
  const Run eval = run(fmt::format("eval --ckpt {}", out.string()));
  INFO(eval.output);
  CHECK(eval.exit_code == 0);
  // A second sweep does not replace the first unasked.
  const Run again = run(args);
  CHECK(again.exit_code != 0);
  CHECK_THAT(again.output, Contains("already holds a run") && Contains("--resume"));
  const Run resumed = run(args + " --resume");
  INFO(resumed.output);
  CHECK(resumed.exit_code == 0);
  CHECK_THAT(resumed.output, Contains("finished before: kept as it is"));
  fs::remove_all(out);
}

TEST_CASE("tune: options that do not go with --tune are refused before training") {
  const fs::path out = fresh_dir("tune_refused");
  const std::string base =
      fmt::format("train --model bert --task brackets --out {} ", out.string());
  const Run steps = run(base + "--tune 1 --steps 100");
  CHECK(steps.exit_code != 0);
  CHECK_THAT(steps.output, Contains("--tune 1 is the budget of the whole sweep"));
  const Run zero = run(base + "--tune 0");
  CHECK_THAT(zero.output, Contains("--tune 0: must be a positive number of minutes"));
  const Run all = run(base + "--tune 1 --lr 1e-3 --dropout 0.1 --mlm-weight 0");
  CHECK_THAT(all.output, Contains("every one of them is given"));
  CHECK(!fs::exists(out / "tune"));
  fs::remove_all(out);
}
