// metrics.jsonl, a run's log: one JSON object per line, appended as the run
// goes (docs/json.md lists every field). Four kinds of line:
//
//   {"event": "start", "run_id", "model", "task"}
//   {"step", "split": "train", "loss", "lr", "grad_norm", "tokens_per_s", "elapsed_s"
//    [, "ranks", "wait_s", "allreduce_s" on several ranks]}
//   {"step", "split": "valid", "examples" | "blocks", "loss", <scores>, "elapsed_s"}
//   {"event": "resume", "step", "steps", "run_id"}
//   {"step", "split": "attention", "examples", "maps": [{"name", "kind", "entropy", ...}]}
//
// The scores of a held-out line are the metrics' own (metric_fields). This
// module is the one place that writes or reads them.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/json.h"
#include "framing/attention_statistics.h"
#include "framing/metrics.h"

namespace attnlab {

struct TrainLogLine {
  int64_t step = 0;
  double loss = 0, lr = 0, grad_norm = 0, tokens_per_s = 0, elapsed_s = 0;
  // Several ranks: how many, and the seconds spent waiting for the slowest
  // rank and in the gradient all-reduce since the last line.
  int ranks = 1;
  double wait_s = 0, allreduce_s = 0;
};
std::string metrics_line(const TrainLogLine& line);
std::string held_out_line(int64_t step, const EvalMetrics& m, double elapsed_s);
// The first line of a run, and the first of each --resume: both name the run
// (CheckpointInfo::run_id), so that a log is never continued by another run.
std::string start_line(const std::string& run_id, const std::string& model,
                       const std::string& task);
std::string resume_line(int64_t step, int64_t steps, const std::string& run_id);
// train --trace-every: every head's attention statistics at `step`.
std::string attention_line(int64_t step, const AttentionStatistics& stats, double elapsed_s);

// The held-out metrics' fields: a language model's measure (bits_per_char
// or perplexity), accuracy and macro_f1, or token_accuracy and exact_match.
// Shared with eval --format jsonl.
void add_metric_fields(Json& j, const EvalMetrics& m);

// One line read back.
struct MetricsRecord {
  enum class Kind { Start, Train, Valid, Resume, Attention, Other };
  Kind kind = Kind::Other;
  // NaN where the line has no such number (or null).
  double step = NAN, elapsed_s = NAN, loss = NAN, tokens_per_s = NAN;
  double examples = NAN;  // valid lines: examples (or a language model's blocks) scored
  std::vector<std::pair<std::string, double>> scores;  // valid lines: name, value in order
  std::string run_id;  // start and resume lines of runs from format 5 on
  Json maps;           // attention lines: their "maps" array
};
// Throws std::invalid_argument when the line is not a JSON object. Lines of
// runs that wrote a non-finite number as nan or inf read as null.
MetricsRecord parse_metrics_line(const std::string& line);

}  // namespace attnlab
