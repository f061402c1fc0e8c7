// `attnlab train --tune MINUTES`: a small sweep around the run's settings,
// each candidate trained for an equal share of the budget and judged on the
// held-out split by its best evaluation (what best.h5 keeps), and the best
// candidate's run kept as the run in --out. The grid and the selection are
// here; cli/tune_command.cpp trains the candidates.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "report/table.h"
#include "study/sweep.h"
#include "train/run_dir.h"
#include "train/trainer.h"

namespace attnlab::study {

// The options --tune may vary, as the user spells them.
inline constexpr const char* kTuneOptions[] = {"lr", "dropout", "mlm-weight"};

// The axes --tune tries around `base`: the learning rate at a third, once
// and three times base.lr; dropout at the model's own and 0.2 more (a
// longer run overfits more); and for BERT on a classification task, without
// and with the auxiliary masked-LM loss (weight 1). An option in `fixed`
// (given by the user) keeps its value and is no axis.
std::vector<GridAxis> tune_axes(const TrainConfig& base, const std::set<std::string>& fixed);

struct TuneCandidate {
  GridCell cell;
  TrainConfig config;  // base with the cell's settings, in <base.out>/tune/<cell name>
};

// One candidate per cell of `axes`, each with an equal share of `minutes`.
std::vector<TuneCandidate> tune_candidates(const TrainConfig& base,
                                           const std::vector<GridAxis>& axes, double minutes);

// The directory of a tuning run's candidates: <out>/tune.
std::string tune_directory(const std::string& out);

struct TunedRun {
  TuneCandidate candidate;
  TrainResult result;
  SelectMetric metric = SelectMetric::Auto;  // as the run resolved it
};

// The run whose best held-out evaluation is best: the highest selection
// metric, or the lowest when that is the loss. Ties go to the earlier run.
size_t best_tuned_run(const std::vector<TunedRun>& runs);

// Every candidate: its settings, steps, seconds and best held-out value
// (with its step), the chosen one marked.
report::Table tune_table(const std::vector<TunedRun>& runs, size_t best);

// The same as JSON lines for <out>/tune.jsonl: settings as numbers, steps,
// seconds, the metric's name and best value and step, "chosen".
std::string tune_jsonl(const std::vector<TunedRun>& runs, size_t best);

// Makes `out` (whose lock the caller holds) the chosen candidate's run: its
// previous run files removed, then the candidate's checkpoint.h5, best.h5
// and metrics.jsonl copied in, each through a temporary file renamed into
// place (never a half-copied file).
void keep_tuned_run(const TunedRun& chosen, const RunDirectory& out);

}  // namespace attnlab::study
