#include "report/attention_picture.h"

#include <fmt/format.h>

#include <stdexcept>

#include "report/heatmap.h"

namespace attnlab::report {

namespace {
const std::vector<std::string>& axis_tokens(const Trace& trace, const std::string& axis) {
  for (const auto& [name, tokens] : trace.axes)
    if (name == axis) return tokens;
  throw std::logic_error("trace: no token axis '" + axis + "'");
}
}  // namespace

Svg attention_picture(const Trace& trace, const TraceMap& m, bool average_only) {
  const int64_t heads = m.weights.size(0), cells = m.weights.size(1) * m.weights.size(2);
  std::vector<HeatmapPanel> panels;
  std::vector<double> average(size_t(cells), 0.0);
  for (int64_t h = 0; h < heads; ++h) {
    HeatmapPanel p{fmt::format("head {}", h), {}};
    for (int64_t i = 0; i < cells; ++i) {
      p.values.push_back(m.weights.item(h * cells + i));
      average[size_t(i)] += p.values.back() / double(heads);
    }
    panels.push_back(std::move(p));
  }
  panels.push_back({"average over heads", average});
  if (average_only) panels.erase(panels.begin(), panels.end() - 1);
  return attention_heatmaps(fmt::format("{} ({}): \"{}\"", m.name, m.kind, trace.input), panels,
                            axis_tokens(trace, m.query_axis), axis_tokens(trace, m.key_axis),
                            // the average beside the heads when they fit on one row
                            heads <= 4 ? int(heads) + 1 : 4);
}

}  // namespace attnlab::report
