// Training curves from a run's metrics.jsonl, for attnlab plot and reports.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "train/metrics_log.h"
#include "train/run_dir.h"

namespace attnlab::report {

struct CurvePoint {
  double step = 0, seconds = 0, value = 0;
};

struct RunCurves {
  std::string name;  // the run directory's name
  std::vector<CurvePoint> train_loss;
  std::vector<CurvePoint> tokens_per_s;  // training throughput at each train line
  std::vector<CurvePoint> valid_loss;
  // "accuracy", "exact_match", or a language model's "bits_per_char" or
  // "perplexity" (empty: none logged)
  std::string score_name;
  std::vector<CurvePoint> valid_score;
  std::vector<std::string> warnings;  // torn or unreadable lines, said with file:line
};

// What a run is called in a legend: the directory that holds its
// metrics.jsonl at `path` (the file's stem when it has none).
std::string run_name(const std::string& path);
// The warning for a last line cut off by a crash (MetricsLog::torn_line).
std::string torn_line_warning(const std::string& path, size_t line);

// The lines of the metrics log at `path` that parse, each with its 1-based
// line number; a torn last line and lines that do not parse are left out
// with a warning in `warnings` that names path:line.
std::vector<std::pair<size_t, MetricsRecord>> readable_records(const MetricsLog& log,
                                                               const std::string& path,
                                                               std::vector<std::string>& warnings);

// Reads `path`. After a resume marker, points at or after the resumed step
// replace the ones logged before it (the run repeated those steps). Throws
// std::runtime_error naming the file when it is missing or holds no lines.
RunCurves read_curves(const std::string& path);

}  // namespace attnlab::report
