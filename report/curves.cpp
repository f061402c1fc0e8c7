#include "report/curves.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include "train/run_dir.h"

namespace attnlab::report {

std::map<std::string, std::string> parse_flat_json(const std::string& line) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  const auto skip = [&] {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
  };
  const auto fail = [&](const char* what) {
    throw std::invalid_argument(fmt::format("{} at column {}", what, i + 1));
  };
  const auto string = [&] {
    if (i >= line.size() || line[i] != '"') fail("expected a string");
    std::string s;
    for (++i; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) ++i;
      s += line[i];
    }
    if (i >= line.size()) fail("unterminated string");
    ++i;
    return s;
  };
  skip();
  if (i >= line.size() || line[i] != '{') fail("expected '{'");
  ++i;
  skip();
  if (i < line.size() && line[i] == '}') return out;
  for (;;) {
    skip();
    const std::string key = string();
    skip();
    if (i >= line.size() || line[i] != ':') fail("expected ':'");
    ++i;
    skip();
    if (i < line.size() && line[i] == '"') {
      out[key] = string();
    } else {
      const size_t start = i;
      while (i < line.size() && line[i] != ',' && line[i] != '}') ++i;
      std::string v = line.substr(start, i - start);
      while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.pop_back();
      if (v.empty()) fail("expected a value");
      out[key] = v;
    }
    skip();
    if (i < line.size() && line[i] == ',') {
      ++i;
      continue;
    }
    if (i < line.size() && line[i] == '}') return out;
    fail("expected ',' or '}'");
  }
}

namespace {

double number(const std::map<std::string, std::string>& obj, const std::string& key) {
  const auto it = obj.find(key);
  if (it == obj.end()) return NAN;
  try {
    return std::stod(it->second);
  } catch (const std::exception&) {
    return NAN;
  }
}

// Drops the points a resumed run logs again.
void cut_at(std::vector<CurvePoint>& points, double step) {
  while (!points.empty() && points.back().step >= step) points.pop_back();
}

}  // namespace

RunCurves read_curves(const std::string& path) {
  namespace fs = std::filesystem;
  if (!fs::exists(path)) throw std::runtime_error(fmt::format("{}: no such file", path));
  const MetricsLog log = read_metrics_log(path);
  if (log.lines.empty() && log.torn_line == 0)
    throw std::runtime_error(fmt::format("{}: empty (has the run logged anything yet?)", path));
  RunCurves run;
  const fs::path p(path);
  run.name = p.has_parent_path() && !p.parent_path().filename().empty()
                 ? p.parent_path().filename().string()
                 : p.stem().string();
  if (log.torn_line > 0)
    run.warnings.push_back(
        fmt::format("{}:{}: the last line was cut off (a crash while writing it); skipped", path,
                    log.torn_line));
  // Each invocation's clock starts at 0: after a resume, times continue from
  // the last one logged before it.
  double time_offset = 0, last_time = 0;
  for (size_t n = 0; n < log.lines.size(); ++n) {
    std::map<std::string, std::string> obj;
    try {
      obj = parse_flat_json(log.lines[n]);
    } catch (const std::invalid_argument& e) {
      run.warnings.push_back(
          fmt::format("{}:{}: not a JSON object ({}); skipped", path, n + 1, e.what()));
      continue;
    }
    const double step = number(obj, "step");
    if (obj.count("event") && obj["event"] == "resume") {
      for (auto* points : {&run.train_loss, &run.tokens_per_s, &run.valid_loss, &run.valid_score})
        cut_at(*points, step + 1);
      time_offset = last_time;
      continue;
    }
    const double seconds = number(obj, "elapsed_s") + time_offset;
    if (std::isfinite(seconds)) last_time = seconds;
    const CurvePoint point{step, seconds, number(obj, "loss")};
    if (obj["split"] == "train") {
      run.train_loss.push_back(point);
      if (obj.count("tokens_per_s"))
        run.tokens_per_s.push_back({step, seconds, number(obj, "tokens_per_s")});
    } else if (obj["split"] == "valid") {
      run.valid_loss.push_back(point);
      for (const char* score : {"exact_match", "accuracy"})
        if (obj.count(score)) {
          run.score_name = score;
          run.valid_score.push_back({step, point.seconds, number(obj, score)});
        }
    }
  }
  return run;
}

}  // namespace attnlab::report
