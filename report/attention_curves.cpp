#include "report/attention_curves.h"

#include <fmt/format.h>

#include <filesystem>
#include <stdexcept>

#include "report/curves.h"
#include "train/metrics_log.h"
#include "train/run_dir.h"

namespace attnlab::report {

namespace {

std::vector<StepCurve>& measure(MapCurves& map, const std::string& name, size_t heads) {
  for (auto& [n, curves] : map.measures)
    if (n == name) return curves;
  map.measures.emplace_back(name, std::vector<StepCurve>(heads));
  return map.measures.back().second;
}

MapCurves& map_named(AttentionCurves& run, const std::string& name, const std::string& kind) {
  for (MapCurves& m : run.maps)
    if (m.name == name) return m;
  run.maps.push_back({name, kind, {}});
  return run.maps.back();
}

const char* measure_title(const std::string& name) {
  if (name == "entropy") return "entropy (nats)";
  if (name == "distance") return "attended distance (positions)";
  if (name == "special_share") return "share on special tokens";
  return "monotonicity";
}

}  // namespace

AttentionCurves read_attention_curves(const std::string& path) {
  namespace fs = std::filesystem;
  if (!fs::exists(path)) throw std::runtime_error(fmt::format("{}: no such file", path));
  const MetricsLog log = read_metrics_log(path);
  AttentionCurves run;
  run.name = run_name(path);
  bool any = false;
  for (const auto& [number, line] : readable_records(log, path, run.warnings)) {
    if (line.kind == MetricsRecord::Kind::Resume) {
      for (MapCurves& m : run.maps)
        for (auto& [name, heads] : m.measures)
          for (StepCurve& c : heads)
            while (!c.empty() && c.back().first > line.step) c.pop_back();
      continue;
    }
    if (line.kind != MetricsRecord::Kind::Attention) continue;
    try {
      for (const Json& j : line.maps) {
        MapCurves& map =
            map_named(run, j.at("name").get<std::string>(), j.at("kind").get<std::string>());
        for (const char* name : {"entropy", "distance", "special_share", "monotonicity"}) {
          if (!j.contains(name)) continue;
          const Json& values = j.at(name);
          std::vector<StepCurve>& heads = measure(map, name, values.size());
          for (size_t h = 0; h < values.size() && h < heads.size(); ++h)
            if (values[h].is_number()) heads[h].push_back({line.step, values[h].get<double>()});
        }
      }
      any = true;
    } catch (const Json::exception& e) {
      run.warnings.push_back(fmt::format(
          "{}:{}: an attention line without its fields ({}); skipped", path, number, e.what()));
    }
  }
  if (!any)
    throw std::runtime_error(fmt::format(
        "{}: no attention statistics (train with --trace-every N to record them)", path));
  return run;
}

bool special_share_seen(const AttentionCurves& curves) {
  for (const MapCurves& m : curves.maps)
    for (const auto& [name, heads] : m.measures)
      if (name == "special_share")
        for (const StepCurve& head : heads)
          for (const auto& [step, value] : head)
            if (value != 0) return true;
  return false;
}

std::vector<Panel> attention_panels(const AttentionCurves& curves) {
  const bool special = special_share_seen(curves);
  std::vector<Panel> panels;
  for (const MapCurves& m : curves.maps)
    for (const char* shown : {"entropy", "distance", "monotonicity", "special_share"})
      for (const auto& [name, heads] : m.measures) {
        if (name != shown || (name == "special_share" && !special)) continue;
        Panel panel{fmt::format("{} {}", m.name, name), "step", measure_title(name), {}};
        for (size_t h = 0; h < heads.size(); ++h)
          panel.series.push_back({fmt::format("head {}", h), heads[h], h, true});
        panels.push_back(std::move(panel));
      }
  return panels;
}

}  // namespace attnlab::report
