#include "report/curves.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <stdexcept>

#include "train/metrics_log.h"
#include "train/run_dir.h"

namespace attnlab::report {

namespace {

// Drops the points a resumed run logs again.
void cut_at(std::vector<CurvePoint>& points, double step) {
  while (!points.empty() && points.back().step >= step) points.pop_back();
}

}  // namespace

std::string run_name(const std::string& path) {
  const std::filesystem::path p(path);
  return p.has_parent_path() && !p.parent_path().filename().empty()
             ? p.parent_path().filename().string()
             : p.stem().string();
}

std::string torn_line_warning(const std::string& path, size_t line) {
  return fmt::format("{}:{}: the last line was cut off (a crash while writing it); skipped", path,
                     line);
}

RunCurves read_curves(const std::string& path) {
  namespace fs = std::filesystem;
  if (!fs::exists(path)) throw std::runtime_error(fmt::format("{}: no such file", path));
  const MetricsLog log = read_metrics_log(path);
  if (log.lines.empty() && log.torn_line == 0)
    throw std::runtime_error(fmt::format("{}: empty (has the run logged anything yet?)", path));
  RunCurves run;
  run.name = run_name(path);
  // Each invocation's clock starts at 0: after a resume, times continue from
  // the last one logged before it.
  double time_offset = 0, last_time = 0;
  for (const auto& [number, line] : readable_records(log, path, run.warnings)) {
    if (line.kind == MetricsRecord::Kind::Resume) {
      for (auto* points : {&run.train_loss, &run.tokens_per_s, &run.valid_loss, &run.valid_score})
        cut_at(*points, line.step + 1);
      time_offset = last_time;
      continue;
    }
    const double seconds = line.elapsed_s + time_offset;
    if (std::isfinite(seconds)) last_time = seconds;
    const CurvePoint point{line.step, seconds, line.loss};
    if (line.kind == MetricsRecord::Kind::Train) {
      run.train_loss.push_back(point);
      if (!std::isnan(line.tokens_per_s))
        run.tokens_per_s.push_back({line.step, seconds, line.tokens_per_s});
    } else if (line.kind == MetricsRecord::Kind::Valid) {
      run.valid_loss.push_back(point);
      for (const auto& [name, value] : line.scores)
        if (name == "exact_match" || name == "accuracy" || name == "bits_per_char" ||
            name == "perplexity") {
          run.score_name = name;
          run.valid_score.push_back({line.step, seconds, value});
        }
    }
  }
  return run;
}

std::vector<std::pair<size_t, MetricsRecord>> readable_records(const MetricsLog& log,
                                                               const std::string& path,
                                                               std::vector<std::string>& warnings) {
  if (log.torn_line > 0) warnings.push_back(torn_line_warning(path, log.torn_line));
  std::vector<std::pair<size_t, MetricsRecord>> records;
  for (size_t n = 0; n < log.lines.size(); ++n) try {
      records.emplace_back(n + 1, parse_metrics_line(log.lines[n]));
    } catch (const std::invalid_argument& e) {
      warnings.push_back(fmt::format("{}:{}: {}; skipped", path, n + 1, e.what()));
    }
  return records;
}

}  // namespace attnlab::report
