// The comparison as a library (study/compare.h), in-process: which family
// takes part, the plan, what a run's curves say, and the table and JSON made
// of hand-made run records, with expected values worked out by hand.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>

#include "models/gradcheck_models.h"
#include "models/stats.h"
#include "study/compare.h"

using namespace attnlab;
using namespace attnlab::study;
using Catch::Matchers::Contains;

namespace {

report::CurvePoint point(double step, double value) {
  return {step, 0.0, value};
}

// A finished run of `family` and `seed` with the given final scores.
RunRecord record(Family family, uint64_t seed, double accuracy, double macro_f1,
                 int64_t steps_to_90) {
  RunRecord r;
  r.plan.family = family;
  r.plan.label = family_name(family);
  r.plan.seed = seed;
  r.plan.name = fmt::format("{}-seed{}", family_name(family), seed);
  r.model = tiny_config(family);
  r.mean_row_tokens = 10;
  r.result.steps = 100;
  r.result.seconds = 2.0 * double(seed);
  r.result.final_metrics.classification = true;
  r.result.final_metrics.examples = 50;
  r.result.final_metrics.accuracy = accuracy;
  r.result.final_metrics.macro_f1 = macro_f1;
  r.summary.tokens_per_s = 1000.0 * double(seed);
  r.summary.train_loss = 0.5;
  r.summary.steps_to_90 = steps_to_90;
  r.infer_ms = 0.25;
  return r;
}

CompareSetup setup_for(const std::string& task) {
  CompareSetup s;
  s.task = task;
  s.info = data::task_info(task);
  s.out = "runs/cmp";
  s.steps = 50;
  return s;
}

}  // namespace

TEST_CASE("study: an encoder-only family sits out translation, and GPT and T5 adapt to classes") {
  const Eligibility bert = eligibility(Family::BERT, data::TaskKind::Translation);
  CHECK_FALSE(bert.takes_part);
  CHECK_THAT(bert.note, Contains("left out: a bert model is an encoder"));
  const Eligibility perceiver = eligibility(Family::Perceiver, data::TaskKind::Translation);
  CHECK_FALSE(perceiver.takes_part);
  for (Family f : {Family::GPT, Family::T5}) {
    const Eligibility e = eligibility(f, data::TaskKind::Classification);
    CHECK(e.takes_part);
    CHECK_THAT(e.note, Contains("adapted:"));
    CHECK(eligibility(f, data::TaskKind::Translation).note.empty());  // natively
  }
  CHECK(eligibility(Family::BERT, data::TaskKind::Classification).note.empty());
}

TEST_CASE("study: a run's curves give the median throughput, the tail loss and steps to 90%") {
  report::RunCurves curves;
  for (int i = 1; i <= 20; ++i) curves.train_loss.push_back(point(10 * i, double(i)));
  for (double v : {5.0, 1.0, 3.0}) curves.tokens_per_s.push_back(point(0, v));
  curves.valid_score = {point(100, 0.2), point(200, 0.5), point(300, 0.85), point(400, 0.9)};

  // 90% of 0.95 is 0.855: step 300 (0.85) falls just short, step 400 reaches it.
  const CurveSummary s = summarise_curves(curves, 0.95);
  CHECK(s.tokens_per_s == 3.0);
  CHECK(s.train_loss == Approx((19.0 + 20.0) / 2));  // the last tenth: 2 of 20 losses
  CHECK(s.steps_to_90 == 400);

  CHECK(summarise_curves(curves, 0.0).steps_to_90 == -1);  // nothing learned: no step
  const CurveSummary empty = summarise_curves(report::RunCurves{}, 0.5);
  CHECK(empty.tokens_per_s == 0);
  CHECK(empty.train_loss == 0);
  CHECK(empty.steps_to_90 == -1);
}

TEST_CASE("study: the table gives each family mean ± standard deviation over its seeds") {
  const std::vector<RunRecord> runs = {record(Family::GPT, 1, 0.80, 0.70, 40),
                                       record(Family::GPT, 2, 0.90, 0.80, -1),
                                       record(Family::BERT, 1, 0.60, 0.50, 20)};
  const report::Table t = results_table(runs, data::TaskKind::Classification);
  REQUIRE(t.rows.size() == 2);  // a row per family, in the order of the runs
  CHECK(t.header[6] == "held-out accuracy %");
  CHECK(t.header[7] == "macro-F1 %");
  const auto& gpt = t.rows[0];
  const auto& bert = t.rows[1];
  CHECK(bert[0] == "bert");
  CHECK(gpt[0] == "gpt");
  CHECK(bert[6] == "60.0");
  // 80 and 90: mean 85, sample standard deviation sqrt(50) = 7.07.
  CHECK(gpt[6] == "85.0 ± 7.1");
  CHECK(gpt[7] == "75.0 ± 7.1");
  CHECK(gpt[3] == "3.0 ± 1.4");   // 2 s and 4 s
  CHECK(gpt[4] == "1500 ± 707");  // 1000 and 2000 tokens/s
  CHECK(gpt[8] == "40");          // the seed that never reached 90% is left out
  CHECK(bert[1] ==
        report::with_commas(model_stats(tiny_config(Family::BERT), 10).parameters.total()));

  CHECK(mean_spread({}, "{:.1f}") == "-");
  CHECK(mean_spread({-2, -4}, "{:+.1f}") == "-3.0 ± 1.4");  // a gain has a sign, its spread none
  const std::string explained = results_explanation(runs, 2, data::TaskKind::Classification);
  CHECK_THAT(explained, Contains("on 50 held-out examples"));
  CHECK_THAT(explained, Contains("mean ± standard deviation over 2 seeds"));
}

TEST_CASE("study: a text's table gives each objective its loss and bits per character") {
  std::vector<RunRecord> runs;
  for (const auto& [label, loss, tokens_per_char] :
       {std::tuple{"gpt", 1.0, 1.0}, std::tuple{"gpt-prefix", 1.2, 1.0},
        std::tuple{"t5", 2.0, 1.5}}) {
    RunRecord r = record(label == std::string("t5") ? Family::T5 : Family::GPT, 1, 0, 0, -1);
    r.plan.label = label;
    r.objective = label == std::string("t5") ? "span corruption" : "causal language model";
    r.infer_ms = NAN;
    EvalMetrics& m = r.result.final_metrics;
    m = EvalMetrics{};
    m.examples = 12;
    m.language_model = true;
    m.loss = loss;
    m.tokens_per_char = tokens_per_char;
    runs.push_back(r);
  }
  const report::Table t = results_table(runs, data::TaskKind::LanguageModel);
  REQUIRE(t.rows.size() == 3);
  CHECK(t.header[1] == "objective");
  CHECK(t.header[7] == "held-out loss / predicted token");
  CHECK(t.header[8] == "bits / char");
  CHECK(t.rows[1][0] == "gpt-prefix");
  CHECK(t.rows[2][1] == "span corruption");
  CHECK(t.rows[0][7] == "1.000");
  // 1 nat per token, one token per character: 1 / ln 2 bits.
  CHECK(t.rows[0][8] == fmt::format("{:.3f}", 1 / std::log(2.0)));
  CHECK(t.rows[2][8] == fmt::format("{:.3f}", 2 * 1.5 / std::log(2.0)));
  CHECK_THAT(results_explanation(runs, 1, data::TaskKind::LanguageModel),
             Contains("on 12 held-out blocks"));
  const Json j = result_json(runs[2]);
  CHECK(j.at("label") == "t5");
  CHECK(j.at("objective") == "span corruption");
  CHECK(j.at("bits_per_char").get<double>() == Approx(2 * 1.5 / std::log(2.0)));
  CHECK_FALSE(j.contains("inference_ms_per_example"));
}

TEST_CASE("study: results.jsonl holds one object per run with every documented field") {
  const RunRecord r = record(Family::GPT, 3, 0.75, 0.7, 60);
  const Json j = result_json(r);
  CHECK(j.at("model") == "gpt");
  CHECK(j.at("seed") == 3);
  CHECK(j.at("dir") == "gpt-seed3");
  CHECK(j.at("d_model") == 8);
  CHECK(j.at("score") == 0.75);
  CHECK(j.at("macro_f1") == 0.7);
  CHECK(j.at("steps_to_90") == 60);
  CHECK(j.at("tokens_per_s") == 3000.0);
  CHECK(j.at("inference_ms_per_example") == 0.25);
  for (const char* key : {"parameters", "steps", "seconds", "train_loss", "token_accuracy"})
    CHECK(j.contains(key));
}

TEST_CASE("study: parameter matching picks the closest width, and the plan names every run") {
  // The matched width is a multiple of the head count, and no neighbouring
  // width comes closer to the target.
  const ModelConfig base = tiny_config(Family::T5);
  const int64_t target = model_stats(tiny_config(Family::BERT), 1).parameters.total() * 3;
  const ModelConfig m = match_parameters(base, target);
  REQUIRE(m.d_model % m.n_heads == 0);
  CHECK(m.d_ff == std::llround(1.5 * double(m.d_model)));  // d_ff keeps its ratio 12/8
  const auto gap = [&](int64_t d) {
    ModelConfig c = base;
    c.d_model = d;
    c.d_ff = std::llround(1.5 * double(d));
    return std::llabs(model_stats(c, 1).parameters.total() - target);
  };
  CHECK(gap(m.d_model) <= gap(m.d_model - m.n_heads));
  CHECK(gap(m.d_model) <= gap(m.d_model + m.n_heads));

  CompareSetup setup = setup_for("brackets");
  setup.seeds = 2;
  setup.first_seed = 7;
  setup.controlled = true;
  setup.match = Match::Params;
  setup.model_options[Family::GPT] = {{"n_layers", "1"}};
  const auto plan = plan_runs(setup, {Family::BERT, Family::GPT}, 20, 2);
  REQUIRE(plan.size() == 4);
  CHECK(plan[0].name == "bert-seed7");
  CHECK(plan[3].name == "gpt-seed8");
  CHECK(plan[3].config.seed == 8);
  CHECK(plan[3].config.out == "runs/cmp/gpt-seed8");
  CHECK(plan[2].config.model_overrides.at("n_layers") == "1");      // the user's option
  CHECK(plan[0].config.model_overrides.at("n_layers") == "2");      // the common size
  CHECK(plan[2].config.model_overrides.at("norm") == "layernorm");  // controlled blocks
  CHECK(plan[0].config.eval_every == 5);                            // a tenth of 50 steps
  CHECK(plan[0].config.warmup == 10);                               // a fifth of 50 steps
  CHECK_THAT(train_command_line(plan[3], setup.out),
             Contains("attnlab train --model gpt --task brackets --steps 50") &&
                 Contains("--seed 8") && Contains("--out runs/cmp/gpt-seed8"));

  setup.model_options[Family::BERT] = {{"n_heads", "3"}};  // 128 is not a multiple of 3
  CHECK_THROWS_WITH(plan_runs(setup, {Family::BERT}, 20, 2), Contains("bert model:"));
}
