// Grids of settings in `attnlab compare`: the list-valued options (--lr
// 3e-4,1e-3, --d-model 64,128, ...) as axes, the cells they span, each
// family's best cell on held-out data, and the table of the whole grid.
// compare.h plans one run per family, seed and cell.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/json.h"
#include "report/table.h"

namespace attnlab::study {

struct RunRecord;

// One list-valued option and its values as the user typed them.
struct GridAxis {
  std::string option;               // "lr", "d-model", "layers", "steps", "dropout", "batch-size"
  std::vector<std::string> values;  // each checked when the option is read
};

// The options a grid may vary, in the order cells are named and listed.
inline constexpr const char* kGridOptions[] = {"d-model",    "layers", "steps",
                                               "batch-size", "lr",     "dropout"};

// One point of the grid: a value per axis, in the axes' order.
struct GridCell {
  std::vector<std::pair<std::string, std::string>> settings;  // option -> value
  // For run directories: "d64-lr3e-3" ("" without a grid).
  std::string name() const;
  // For people: "--d-model 64 --lr 3e-3" ("" without a grid).
  std::string options() const;
  // The value of `option` in this cell; "" when no axis sets it.
  std::string value(const std::string& option) const;
  // {"d_model": 64, "lr": 0.003}: the settings as numbers, for results.jsonl.
  Json json() const;
};

// Every combination of the axes' values, the first axis varying slowest; one
// empty cell when there are no axes.
std::vector<GridCell> grid_cells(const std::vector<GridAxis>& axes);

// Per label, the cell whose runs did best on held-out data, averaged over
// seeds: the highest score for a task, the lowest held-out loss for a text
// (each objective against its own cells). Ties go to the earlier cell.
// Returns (label, cell name) in the labels' order.
std::vector<std::pair<std::string, std::string>> best_cells(const std::vector<RunRecord>& runs);

// The runs of each label's best cell, for the results table.
std::vector<RunRecord> runs_of_best_cells(const std::vector<RunRecord>& runs);

// Every cell of every label: its settings, parameters, training FLOPs,
// seconds and held-out measures (mean ± spread over seeds), the best cell
// of each label marked.
report::Table grid_table(const std::vector<RunRecord>& runs, bool text);

// What the grid table shows and how the best cells were chosen.
std::string grid_explanation(const std::vector<RunRecord>& runs, bool text);

}  // namespace attnlab::study
