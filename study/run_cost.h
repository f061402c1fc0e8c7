// What each run of a comparison will cost, before it trains: parameters and
// training FLOPs from describe's formulas, and wall-clock time from a short
// measured forward and backward pass of each distinct model. compare lists
// them before a grid starts (and stops there with --dry-run).
#pragma once

#include <vector>

#include "report/table.h"
#include "study/compare.h"
#include "train/prepare_data.h"

namespace attnlab::study {

struct RunCost {
  int64_t parameters = 0;
  double row_tokens = 0;      // a held-out row as the model reads it (a text: its block)
  double training_flops = 0;  // the whole run; 0 when a --minutes budget fits the steps
  double step_ms = 0;         // one training step, forward and backward, measured
  double seconds = 0;         // the run: its steps and evaluations, estimated
};

// Per planned run, in order. Each distinct model and batch is measured once
// (one pass to warm up, then the median of two).
std::vector<RunCost> estimate_costs(const std::vector<PlannedRun>& plan, const PreparedData& data);

// A row of `run`'s data as its model reads it, in tokens: the mean over
// the first held-out examples (a text: its block).
double row_tokens(const PlannedRun& run, const PreparedData& data);

// For --match flops and flops-width: within each cell of the grid, every
// compared run gets the training FLOPs of the cell's first run, by its
// number of steps (warmup and evaluations follow them unless the setup
// fixed them) or by its d_model at the same steps.
void match_training_flops(std::vector<PlannedRun>& plan, const CompareSetup& setup,
                          const PreparedData& data);

// A row per planned run (seeds of one cell and family share a row), and a
// last row with the totals.
report::Table cost_table(const std::vector<PlannedRun>& plan, const std::vector<RunCost>& costs);

// What the cost table's estimates count, for under it.
std::string cost_explanation();

}  // namespace attnlab::study
