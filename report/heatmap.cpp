#include "report/heatmap.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace attnlab::report {

std::string heat_colour(double value) {
  // Three stops: white, a mid blue, a dark blue; linear in between.
  const double v = std::clamp(std::isfinite(value) ? value : 0.0, 0.0, 1.0);
  const double stops[3][3] = {{255, 255, 255}, {107, 174, 214}, {8, 48, 107}};
  const int lo = v < 0.5 ? 0 : 1;
  const double t = (v - 0.5 * lo) / 0.5;
  int rgb[3];
  for (int k = 0; k < 3; ++k)
    rgb[k] = int(std::lround(stops[lo][k] + (stops[lo + 1][k] - stops[lo][k]) * t));
  return fmt::format("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]);
}

Svg attention_heatmaps(const std::string& caption, const std::vector<HeatmapPanel>& panels,
                       const std::vector<std::string>& row_labels,
                       const std::vector<std::string>& col_labels, int panels_per_row) {
  const size_t rows = row_labels.size(), cols = col_labels.size();
  for (const HeatmapPanel& p : panels)
    if (p.values.size() != rows * cols)
      throw std::invalid_argument(fmt::format("heatmap '{}': {} values for {} x {} tokens", p.title,
                                              p.values.size(), rows, cols));
  // Long sequences get smaller cells, but never so small that labels blur.
  const double cell = std::clamp(360.0 / double(std::max<size_t>({rows, cols, 1})), 9.0, 22.0);
  const double font = std::min(11.0, cell * 0.85);
  double left = 8, top = 8;
  for (const auto& l : row_labels) left = std::max(left, label_width(visible_token(l), font) + 10);
  for (const auto& l : col_labels) top = std::max(top, label_width(visible_token(l), font) + 10);
  const double grid_w = cell * double(cols), grid_h = cell * double(rows);
  const double panel_w = left + grid_w + 20, panel_h = 24 + top + grid_h + 16;
  const int per_row = std::max(1, std::min<int>(panels_per_row, int(panels.size())));
  const int panel_rows = (int(panels.size()) + per_row - 1) / per_row;
  const double caption_h = 30, legend_h = 50;
  // wide enough for the caption (bold 14 px) and the legend
  const double width = std::max({panel_w * per_row, 320.0, label_width(caption, 14) * 1.1 + 20});
  Svg svg(width, caption_h + panel_h * panel_rows + legend_h);
  svg.text(10, 20, caption, 14, "start", "#222", 0, true);
  for (size_t p = 0; p < panels.size(); ++p) {
    const double x0 = panel_w * double(p % per_row), y0 = caption_h + panel_h * double(p / per_row);
    const double gx = x0 + left, gy = y0 + 24 + top;
    svg.text(gx + grid_w / 2, y0 + 16, panels[p].title, 12, "middle", "#222", 0, true);
    for (size_t c = 0; c < cols; ++c)  // key tokens along the top, read bottom to top
      svg.text(gx + cell * (double(c) + 0.5) + font * 0.35, gy - 5, visible_token(col_labels[c]),
               font, "start", "#333", -90);
    for (size_t r = 0; r < rows; ++r) {
      svg.text(gx - 5, gy + cell * (double(r) + 0.5) + font * 0.35, visible_token(row_labels[r]),
               font, "end", "#333");
      for (size_t c = 0; c < cols; ++c) {
        const double v = panels[p].values[r * cols + c];
        svg.rect(gx + cell * double(c), gy + cell * double(r), cell, cell, heat_colour(v), "none",
                 fmt::format("{} -> {}: {:.3f}", row_labels[r], col_labels[c], v));
      }
    }
    svg.rect(gx, gy, grid_w, grid_h, "none", "#888");
  }
  // The colour scale.
  const double ly = caption_h + panel_h * panel_rows + 12, lx = 20, lw = 200;
  for (int i = 0; i < 50; ++i)
    svg.rect(lx + lw * i / 50.0, ly, lw / 50.0 + 0.5, 12, heat_colour(i / 49.0));
  svg.rect(lx, ly, lw, 12, "none", "#888");
  for (double t : {0.0, 0.5, 1.0})
    svg.text(lx + lw * t, ly + 26, tick_label(t), 11, "middle", "#333");
  svg.text(lx + lw + 12, ly + 11, "attention weight (rows: queries, columns: keys)", 11, "start",
           "#333");
  return svg;
}

}  // namespace attnlab::report
