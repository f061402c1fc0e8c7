#include "study/tune.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "common/errors.h"
#include "common/json.h"
#include "models/config.h"
#include "train/checkpoint.h"
#include "train/output_file.h"
#include "train/run_dir.h"

namespace attnlab::study {

namespace fs = std::filesystem;

namespace {

// Two significant digits: a learning rate of 1e-3 / 3 is tried as 0.00033.
std::string short_number(double x) {
  return fmt::format("{:.2g}", x);
}

double base_dropout(const TrainConfig& base) {
  const auto it = base.model_overrides.find("dropout");
  return it != base.model_overrides.end() ? std::stod(it->second) : preset(base.model).dropout;
}

bool lower_is_better(SelectMetric metric) {
  return metric == SelectMetric::Loss;
}

}  // namespace

std::vector<GridAxis> tune_axes(const TrainConfig& base, const std::set<std::string>& fixed) {
  std::vector<GridAxis> axes;
  if (!fixed.count("lr"))
    axes.push_back(
        {"lr", {short_number(base.lr / 3), short_number(base.lr), short_number(base.lr * 3)}});
  if (!fixed.count("dropout")) {
    const double dropout = base_dropout(base);
    axes.push_back(
        {"dropout", {short_number(dropout), short_number(std::min(0.5, dropout + 0.2))}});
  }
  if (!fixed.count("mlm-weight") && base.model == Family::BERT &&
      base.task_kind == data::TaskKind::Classification && base.mlm_weight == 0)
    axes.push_back({"mlm-weight", {"0", "1"}});
  return axes;
}

std::string tune_directory(const std::string& out) {
  return (fs::path(out) / "tune").string();
}

std::vector<TuneCandidate> tune_candidates(const TrainConfig& base,
                                           const std::vector<GridAxis>& axes, double minutes) {
  std::vector<TuneCandidate> candidates;
  const std::vector<GridCell> cells = grid_cells(axes);
  for (const GridCell& cell : cells) {
    TuneCandidate c{cell, base};
    for (const auto& [option, value] : cell.settings) {
      if (option == "lr") c.config.lr = std::stod(value);
      if (option == "dropout") c.config.model_overrides["dropout"] = value;
      if (option == "mlm-weight") c.config.mlm_weight = std::stod(value);
    }
    c.config.minutes = minutes / double(cells.size());
    c.config.out = (fs::path(tune_directory(base.out)) / cell.name()).string();
    candidates.push_back(std::move(c));
  }
  return candidates;
}

size_t best_tuned_run(const std::vector<TunedRun>& runs) {
  size_t best = 0;
  for (size_t i = 1; i < runs.size(); ++i) {
    const double value = runs[i].result.best_metric, so_far = runs[best].result.best_metric;
    if (lower_is_better(runs[i].metric) ? value < so_far : value > so_far) best = i;
  }
  return best;
}

namespace {

std::string metric_text(const TunedRun& run) {
  const double v = run.result.best_metric;
  return lower_is_better(run.metric) ? fmt::format("{:.4f}", v) : fmt::format("{:.1f}%", 100 * v);
}

}  // namespace

report::Table tune_table(const std::vector<TunedRun>& runs, size_t best) {
  report::Table t;
  t.header = {"setting",
              "steps",
              "seconds",
              runs.empty() ? "best held-out"
                           : fmt::format("best held-out {}",
                                         enum_name(kSelectMetricNames, runs.front().metric)),
              "at step",
              ""};
  for (size_t i = 0; i < runs.size(); ++i) {
    const TunedRun& r = runs[i];
    t.rows.push_back({r.candidate.cell.options(), report::with_commas(r.result.steps),
                      fmt::format("{:.0f}", r.result.seconds), metric_text(r),
                      report::with_commas(r.result.best_step), i == best ? "chosen" : ""});
  }
  return t;
}

std::string tune_jsonl(const std::vector<TunedRun>& runs, size_t best) {
  std::string out;
  for (size_t i = 0; i < runs.size(); ++i) {
    const TunedRun& r = runs[i];
    Json j;
    j["setting"] = r.candidate.cell.json();
    j["run"] = r.candidate.config.out;
    j["steps"] = r.result.steps;
    j["seconds"] = r.result.seconds;
    j["metric"] = enum_name(kSelectMetricNames, r.metric);
    j["best"] = r.result.best_metric;
    j["best_step"] = r.result.best_step;
    j["chosen"] = i == best;
    out += j.dump() + "\n";
  }
  return out;
}

void keep_tuned_run(const TunedRun& chosen, const RunDirectory& out) {
  out.start_over();
  for (const char* name : {run_files::kCheckpoint, run_files::kBest, run_files::kMetrics}) {
    const std::string from = run_files::in(chosen.candidate.config.out, name);
    if (!fs::exists(from)) continue;  // a run stopped before its first evaluation has no best.h5
    PendingFile file(run_files::in(out.path(), name));
    std::error_code ec;
    fs::copy_file(from, file.temporary(), fs::copy_options::overwrite_existing, ec);
    if (ec)
      throw std::runtime_error(
          fmt::format("cannot copy {} to {}: {}", from, file.temporary(), ec.message()));
    file.publish();
  }
}

}  // namespace attnlab::study
