#include "study/run_cost.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "framing/framing.h"
#include "models/model.h"
#include "models/stats.h"
#include "study/describe.h"
#include "train/progress.h"

namespace attnlab::study {

namespace {

// The held-out rows a cost is taken at: at most this many.
constexpr size_t kCostExamples = 1000;

// Forward work as a share of a training step's (forward and backward): the
// backward costs two forwards.
constexpr double kForwardShare = 1.0 / 3.0;

// The model a run will build. A built-in task's kind is the data's: the
// run resolves it as it starts (a text's BERT then gets its masked-LM head).
ModelConfig planned_model(TrainConfig config, const PreparedData& data) {
  config.task_kind = data.dataset.kind;
  return model_config_for(config, data.vocab->size(), int64_t(data.dataset.labels.size()));
}

}  // namespace

double row_tokens(const PlannedRun& run, const PreparedData& data) {
  // A text's rows are its blocks. (Its framing may need tokens the shared
  // vocabulary lacks: each objective's run builds its own, <mask> and all.)
  if (data.dataset.kind == data::TaskKind::LanguageModel) return double(run.config.block_size);
  const ModelConfig model = planned_model(run.config, data);
  const std::unique_ptr<Framing> framing =
      make_framing({make_model(model), data.vocab, data.dataset.kind, data.dataset.labels});
  if (framing->streams_blocks()) return double(framing->block_size());
  const std::vector<data::Example> sample(
      data.dataset.valid.begin(),
      data.dataset.valid.begin() + std::min(data.dataset.valid.size(), kCostExamples));
  double positions = 0;
  for (const data::EncodedExample& e : framing->encode(sample))
    positions += double(framing->input_positions(e));
  return sample.empty() ? 1 : positions / double(sample.size());
}

void match_training_flops(std::vector<PlannedRun>& plan, const CompareSetup& setup,
                          const PreparedData& data) {
  std::map<std::string, double> target;  // per cell: its first run's training FLOPs
  for (PlannedRun& run : plan) {
    if (run.stage != Stage::Compared) continue;
    const double tokens = row_tokens(run, data);
    const ModelConfig model = planned_model(run.config, data);
    const auto run_flops = [&](const ModelConfig& m) {
      return training_flops(m, tokens, run.config.batch_size, run.config.steps);
    };
    const std::string cell = run.cell.name();
    if (!target.count(cell)) {
      target[cell] = run_flops(model);
      continue;
    }
    if (setup.match == Match::FlopsWidth) {
      const ModelConfig matched = closest_width(model, run_flops, target[cell]);
      run.config.model_overrides["d_model"] = std::to_string(matched.d_model);
      run.config.model_overrides["d_ff"] = std::to_string(matched.d_ff);
      continue;
    }
    const double per_step = training_flops(model, tokens, run.config.batch_size, 1);
    TrainConfig& c = run.config;
    c.steps = std::max<int64_t>(1, std::llround(target[cell] / per_step));
    if (setup.warmup < 0) c.warmup = std::min<int64_t>(200, c.steps / 5);
    if (setup.eval_every <= 0) c.eval_every = std::max<int64_t>(1, c.steps / 10);
    c.log_every = std::max<int64_t>(1, std::min<int64_t>(c.eval_every / 4, 50));
  }
}

std::vector<RunCost> estimate_costs(const std::vector<PlannedRun>& plan, const PreparedData& data) {
  std::map<std::string, double> measured_ms;  // per model config and batch
  std::vector<RunCost> costs;
  for (const PlannedRun& run : plan) {
    RunCost cost;
    const ModelConfig model = planned_model(run.config, data);
    cost.parameters = model_stats(model, 1).parameters.total();
    cost.row_tokens = row_tokens(run, data);
    const int64_t length = std::max<int64_t>(1, std::llround(cost.row_tokens));
    std::string key = std::to_string(run.config.batch_size);
    for (const auto& [field, value] : model_config_fields().to_map(model))
      key += " " + field + "=" + value;
    if (!measured_ms.count(key))
      measured_ms[key] = measure(model, run.config.batch_size, length, 2).milliseconds;
    cost.step_ms = measured_ms[key];
    if (run.config.minutes > 0) {
      cost.seconds = 60 * run.config.minutes;
    } else {
      cost.training_flops =
          training_flops(model, cost.row_tokens, run.config.batch_size, run.config.steps);
      // Each evaluation reads every held-out row once, forward only.
      const double evaluations =
          double(run.config.steps / std::max<int64_t>(1, run.config.eval_every));
      const double eval_batches =
          std::ceil(double(data.dataset.valid.size()) / double(run.config.batch_size));
      cost.seconds = 1e-3 * cost.step_ms *
                     (double(run.config.steps) + evaluations * eval_batches * kForwardShare);
    }
    costs.push_back(cost);
  }
  return costs;
}

report::Table cost_table(const std::vector<PlannedRun>& plan, const std::vector<RunCost>& costs) {
  report::Table table{
      {"run", "model", "setting", "steps", "params", "train FLOPs", "step ms", "estimated"}};
  double flops = 0, seconds = 0;
  for (size_t i = 0; i < plan.size(); ++i) {
    const PlannedRun& run = plan[i];
    const RunCost& cost = costs[i];
    flops += cost.training_flops;
    seconds += cost.seconds;
    table.rows.push_back({run.name, run.label,
                          run.cell.options().empty() ? "-" : run.cell.options(),
                          run.config.minutes > 0 ? fmt::format("{} min", run.config.minutes)
                                                 : std::to_string(run.config.steps),
                          report::with_commas(cost.parameters),
                          cost.training_flops > 0 ? report::si_number(cost.training_flops) : "-",
                          fmt::format("{:.1f}", cost.step_ms), format_duration(cost.seconds)});
  }
  table.rows.push_back({fmt::format("all {} runs", plan.size()), "", "", "", "",
                        flops > 0 ? report::si_number(flops) : "-", "", format_duration(seconds)});
  return table;
}

std::string cost_explanation() {
  return "Parameters and training FLOPs (forward and backward, per token at the mean held-out "
         "row length, times the tokens of every step) are describe's formulas. Step ms is one "
         "forward and backward pass of that model and batch, measured now; the estimate is the "
         "steps at that time plus each evaluation's forward passes over the held-out rows. "
         "Greedy decoding for exact match and the optimiser step add to it.";
}

}  // namespace attnlab::study
