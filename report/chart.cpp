#include "report/chart.h"

#include "report/table.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace attnlab::report {

namespace {

// Margins inside a panel: room for tick labels on the left and below.
constexpr double kLeft = 62, kRight = 16, kTop = 34, kBottom = 48;

void draw_panel(Svg& svg, const Panel& panel, double x0, double y0, double w, double h) {
  const double px = x0 + kLeft, py = y0 + kTop, pw = w - kLeft - kRight, ph = h - kTop - kBottom;
  svg.text(x0 + w / 2, y0 + 20, panel.title, 14, "middle", "#222", 0, true);
  // x as drawn: its logarithm on a log axis, NaN where it cannot be drawn.
  const auto axis_x = [&](double x) {
    return !panel.log_x ? x : x > 0 ? std::log10(x) : std::numeric_limits<double>::quiet_NaN();
  };
  double xlo = std::numeric_limits<double>::infinity(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  for (const Series& s : panel.series)
    for (const auto& [raw_x, y] : s.points) {
      const double x = axis_x(raw_x);
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      xlo = std::min(xlo, x), xhi = std::max(xhi, x), ylo = std::min(ylo, y),
      yhi = std::max(yhi, y);
    }
  svg.rect(px, py, pw, ph, "#fbfbfb", "#999");
  if (!(xhi >= xlo)) {
    svg.text(px + pw / 2, py + ph / 2, "no data", 13, "middle", "#888");
    return;
  }
  if (panel.log_x) {  // a little room either side, in decades
    const double room = std::max(0.05, 0.04 * (xhi - xlo));
    xlo -= room, xhi += room;
  }
  if (xhi == xlo) xhi = xlo + 1;
  if (yhi == ylo) yhi = ylo + (ylo == 0 ? 1 : std::abs(ylo) * 0.1);
  const double pad = (yhi - ylo) * 0.05;
  ylo -= pad, yhi += pad;
  const auto sx = [&](double x) { return px + (x - xlo) / (xhi - xlo) * pw; };
  const auto sy = [&](double y) { return py + ph - (y - ylo) / (yhi - ylo) * ph; };
  std::vector<double> x_ticks;
  if (panel.log_x) {
    // 1, 2 and 5 of each decade in view; the decades alone when they are many.
    const bool decades_only = xhi - xlo > 4;
    for (double k = std::floor(xlo); k <= std::ceil(xhi); ++k)
      for (double m : {1.0, 2.0, 5.0})
        if (m == 1.0 || !decades_only) x_ticks.push_back(k + std::log10(m));
  } else {
    x_ticks = nice_ticks(xlo, xhi, 5);
  }
  for (double t : x_ticks) {
    if (t < xlo || t > xhi) continue;
    svg.line(sx(t), py, sx(t), py + ph, "#e3e3e3");
    svg.text(sx(t), py + ph + 16, panel.log_x ? si_number(std::pow(10.0, t)) : tick_label(t), 11,
             "middle", "#444");
  }
  for (double t : nice_ticks(ylo, yhi, 5)) {
    if (t < ylo || t > yhi) continue;
    svg.line(px, sy(t), px + pw, sy(t), "#e3e3e3");
    svg.text(px - 6, sy(t) + 4, tick_label(t), 11, "end", "#444");
  }
  svg.text(px + pw / 2, py + ph + 36, panel.x_label, 12, "middle", "#333");
  svg.text(x0 + 14, py + ph / 2, panel.y_label, 12, "middle", "#333", -90);
  for (const Series& s : panel.series) {
    std::vector<std::pair<double, double>> pts;
    for (const auto& [raw_x, y] : s.points)
      if (const double x = axis_x(raw_x); std::isfinite(x) && std::isfinite(y))
        pts.push_back({sx(x), sy(y)});
    if (s.line) svg.polyline(pts, series_colour(s.colour), 1.8, s.dash);
    if (s.markers)
      for (const auto& [x, y] : pts) svg.circle(x, y, 3, series_colour(s.colour));
  }
}

}  // namespace

Svg line_charts(const std::vector<Panel>& panels, double panel_width, double panel_height,
                size_t panels_per_row) {
  std::vector<std::pair<std::string, size_t>> legend;  // name, colour: first appearance order
  for (const Panel& p : panels)
    for (const Series& s : p.series)
      if (std::none_of(legend.begin(), legend.end(),
                       [&](const auto& e) { return e.first == s.name; }))
        legend.push_back({s.name, s.colour});
  // Legend rows of up to three entries under the panels.
  const size_t per_row = 3;
  const double legend_height = 24.0 * double((legend.size() + per_row - 1) / per_row) + 12;
  const size_t columns = std::max<size_t>(
      panels_per_row == 0 ? panels.size() : std::min(panels_per_row, panels.size()), 1);
  const size_t rows = std::max<size_t>((panels.size() + columns - 1) / columns, 1);
  const double width = panel_width * double(columns), grid_height = panel_height * double(rows);
  Svg svg(width, grid_height + legend_height);
  for (size_t i = 0; i < panels.size(); ++i)
    draw_panel(svg, panels[i], panel_width * double(i % columns),
               panel_height * double(i / columns), panel_width, panel_height);
  const double column = width / double(per_row);
  for (size_t i = 0; i < legend.size(); ++i) {
    const double x = 20 + column * double(i % per_row),
                 y = grid_height + 16 + 24.0 * double(i / per_row);
    svg.line(x, y, x + 24, y, series_colour(legend[i].second), 3);
    svg.text(x + 30, y + 4, legend[i].first, 12, "start", "#222");
  }
  return svg;
}

}  // namespace attnlab::report
