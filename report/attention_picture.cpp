#include "report/attention_picture.h"

#include <fmt/format.h>

#include <algorithm>
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

Svg attention_picture(const Trace& trace, const TraceMap& m, bool average_only, size_t max_tokens) {
  const int64_t heads = m.weights.size(0), tq = m.weights.size(1), tk = m.weights.size(2);
  const auto capped = [&](int64_t n) {
    return max_tokens > 0 ? std::min<int64_t>(n, int64_t(max_tokens)) : n;
  };
  const int64_t rows = capped(tq), cols = capped(tk);
  std::vector<HeatmapPanel> panels;
  std::vector<double> average(size_t(rows * cols), 0.0);
  for (int64_t h = 0; h < heads; ++h) {
    HeatmapPanel p{fmt::format("head {}", h), {}};
    for (int64_t q = 0; q < rows; ++q)
      for (int64_t k = 0; k < cols; ++k) {
        p.values.push_back(m.weights.item((h * tq + q) * tk + k));
        average[size_t(q * cols + k)] += p.values.back() / double(heads);
      }
    panels.push_back(std::move(p));
  }
  panels.push_back({"average over heads", average});
  if (average_only) panels.erase(panels.begin(), panels.end() - 1);
  std::vector<std::string> row_labels = axis_tokens(trace, m.query_axis);
  std::vector<std::string> col_labels = axis_tokens(trace, m.key_axis);
  row_labels.resize(size_t(rows));
  col_labels.resize(size_t(cols));
  std::string caption = fmt::format("{} ({}): \"{}\"", m.name, m.kind, trace.input);
  if (rows < tq || cols < tk)
    caption += fmt::format(" (first {} of {} queries, {} of {} keys)", rows, tq, cols, tk);
  return attention_heatmaps(caption, panels, row_labels, col_labels,
                            // the average beside the heads when they fit on one row
                            heads <= 4 ? int(heads) + 1 : 4);
}

}  // namespace attnlab::report
