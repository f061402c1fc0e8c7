#include "study/sweep.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "models/stats.h"
#include "study/compare.h"

namespace attnlab::study {

namespace {

// How an option shows in a run directory's name: short, and never a path.
const std::map<std::string, std::string> kCellPrefix = {
    {"d-model", "d"},    {"layers", "L"},     {"steps", "s"},       {"lr", "lr"},
    {"dropout", "drop"}, {"batch-size", "b"}, {"mlm-weight", "mlm"}};

// The config field an option sets, as results.jsonl names it.
const std::map<std::string, std::string> kCellField = {
    {"d-model", "d_model"}, {"layers", "n_layers"},       {"steps", "steps"},          {"lr", "lr"},
    {"dropout", "dropout"}, {"batch-size", "batch_size"}, {"mlm-weight", "mlm_weight"}};

// The runs of `label` in `cell`, in their order.
std::vector<const RunRecord*> runs_of(const std::vector<RunRecord>& runs, const std::string& label,
                                      const std::string& cell) {
  std::vector<const RunRecord*> out;
  for (const RunRecord& r : runs)
    if (r.plan.label == label && r.plan.cell.name() == cell) out.push_back(&r);
  return out;
}

// The cells of `label`'s runs, each once, in their order.
std::vector<std::string> cells_of(const std::vector<RunRecord>& runs, const std::string& label) {
  std::vector<std::string> cells;
  for (const RunRecord& r : runs)
    if (r.plan.label == label &&
        std::find(cells.begin(), cells.end(), r.plan.cell.name()) == cells.end())
      cells.push_back(r.plan.cell.name());
  return cells;
}

double mean_of(const std::vector<const RunRecord*>& runs, double (*value)(const RunRecord&)) {
  double sum = 0;
  for (const RunRecord* r : runs) sum += value(*r);
  return runs.empty() ? NAN : sum / double(runs.size());
}

double held_out_score(const RunRecord& r) {
  return r.result.final_metrics.headline();
}
double held_out_loss(const RunRecord& r) {
  return r.result.final_metrics.loss;
}

}  // namespace

std::string GridCell::name() const {
  std::string out;
  for (const auto& [option, value] : settings)
    out += (out.empty() ? "" : "-") + kCellPrefix.at(option) + value;
  return out;
}

std::string GridCell::options() const {
  std::string out;
  for (const auto& [option, value] : settings)
    out += fmt::format("{}--{} {}", out.empty() ? "" : " ", option, value);
  return out;
}

std::string GridCell::value(const std::string& option) const {
  for (const auto& [o, v] : settings)
    if (o == option) return v;
  return "";
}

Json GridCell::json() const {
  Json j = Json::object();
  for (const auto& [option, value] : settings) {
    const double number = std::stod(value);
    if (option == "lr" || option == "dropout")
      j[kCellField.at(option)] = number;
    else
      j[kCellField.at(option)] = int64_t(number);
  }
  return j;
}

std::vector<GridCell> grid_cells(const std::vector<GridAxis>& axes) {
  std::vector<GridCell> cells = {GridCell{}};
  for (const GridAxis& axis : axes) {
    std::vector<GridCell> next;
    for (const GridCell& cell : cells)
      for (const std::string& value : axis.values) {
        GridCell c = cell;
        c.settings.emplace_back(axis.option, value);
        next.push_back(std::move(c));
      }
    cells = std::move(next);
  }
  return cells;
}

std::vector<std::pair<std::string, std::string>> best_cells(const std::vector<RunRecord>& runs) {
  std::vector<std::pair<std::string, std::string>> best;
  for (const std::string& label : run_labels(runs)) {
    const bool text = runs_of(runs, label, cells_of(runs, label).front())
                          .front()
                          ->result.final_metrics.language_model;
    std::string chosen;
    double chosen_score = NAN, chosen_loss = NAN;
    for (const std::string& cell : cells_of(runs, label)) {
      const auto rs = runs_of(runs, label, cell);
      const double score = mean_of(rs, held_out_score), loss = mean_of(rs, held_out_loss);
      const bool better =
          chosen.empty() ||
          (text ? loss < chosen_loss
                : score > chosen_score || (score == chosen_score && loss < chosen_loss));
      if (better) chosen = cell, chosen_score = score, chosen_loss = loss;
    }
    best.emplace_back(label, chosen);
  }
  return best;
}

std::vector<RunRecord> runs_of_best_cells(const std::vector<RunRecord>& runs) {
  const auto best = best_cells(runs);
  std::vector<RunRecord> out;
  for (const RunRecord& r : runs)
    for (const auto& [label, cell] : best)
      if (r.plan.label == label && r.plan.cell.name() == cell) out.push_back(r);
  return out;
}

report::Table grid_table(const std::vector<RunRecord>& runs, bool text) {
  const bool words = text && !runs.empty() && runs.front().result.final_metrics.word_tokens;
  const bool classification =
      !text && !runs.empty() && runs.front().result.final_metrics.classification;
  report::Table table{{"model", "setting", "params", "train FLOPs", "wall s", "held-out loss"}};
  table.header.push_back(text ? (words ? "perplexity" : "bits / char")
                              : (classification ? "accuracy %" : "exact match %"));
  table.header.push_back("best");
  const auto best = best_cells(runs);
  for (const std::string& label : run_labels(runs))
    for (const std::string& cell : cells_of(runs, label)) {
      const auto rs = runs_of(runs, label, cell);
      const auto collect = [&](auto value) {
        std::vector<double> xs;
        for (const RunRecord* r : rs)
          if (const double v = value(*r); std::isfinite(v)) xs.push_back(v);
        return xs;
      };
      const RunRecord& first = *rs.front();
      const bool chosen = std::find(best.begin(), best.end(), std::pair{label, cell}) != best.end();
      table.rows.push_back(
          {label, first.plan.cell.options(),
           report::with_commas(model_stats(first.model, 1).parameters.total()),
           report::si_number(run_training_flops(first)),
           mean_spread(collect([](const RunRecord& r) { return r.result.seconds; }), "{:.1f}"),
           mean_spread(collect(held_out_loss), "{:.4f}"),
           text ? mean_spread(collect([](const RunRecord& r) {
                                return r.result.final_metrics.lm_measure();
                              }),
                              words ? "{:.2f}" : "{:.3f}")
                : mean_spread(collect([](const RunRecord& r) { return 100 * held_out_score(r); }),
                              "{:.1f}"),
           chosen ? "best" : ""});
    }
  return table;
}

std::string grid_explanation(const std::vector<RunRecord>& runs, bool text) {
  const int64_t rows = runs.empty() ? 0 : runs.front().result.final_metrics.examples;
  return fmt::format(
      "Every setting of the grid for every model, each the mean ± standard deviation over its "
      "seeds. The best setting of each model is the one with the {} on the {} held-out {} "
      "(the validation split: a test file, if you keep one, plays no part), averaged over "
      "seeds; the results table above shows each model at its best setting. Train FLOPs are "
      "describe's training FLOPs per token at the mean held-out row length, times the tokens of "
      "every step.",
      text ? "lowest held-out loss of its own objective"
           : "highest held-out score (then the lowest loss)",
      rows, text ? "blocks" : "examples");
}

}  // namespace attnlab::study
