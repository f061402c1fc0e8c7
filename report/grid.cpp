#include "report/grid.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "report/heatmap.h"

namespace attnlab::report {

namespace {

std::string mix(const double a[3], const double b[3], double t) {
  int rgb[3];
  for (int k = 0; k < 3; ++k) rgb[k] = int(std::lround(a[k] + (b[k] - a[k]) * t));
  return fmt::format("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]);
}

// Dark cells get white text.
bool dark(double value, const ColourScale& s) {
  if (!std::isfinite(value)) return false;
  if (!s.diverging) return (value - s.lo) / (s.hi - s.lo) > 0.6;
  return value > 0 ? value / s.hi > 0.6 : value / s.lo > 0.6;
}

}  // namespace

std::string scale_colour(double value, const ColourScale& s) {
  if (!std::isfinite(value)) return "#d9d9d9";
  if (!s.diverging) return heat_colour(s.hi > s.lo ? (value - s.lo) / (s.hi - s.lo) : 0.0);
  static const double white[3] = {255, 255, 255}, red[3] = {178, 24, 43}, blue[3] = {33, 102, 172};
  if (value >= 0) return mix(white, blue, s.hi > 0 ? std::min(1.0, value / s.hi) : 0.0);
  return mix(white, red, s.lo < 0 ? std::min(1.0, value / s.lo) : 0.0);
}

Svg grid_heatmaps(const std::string& caption, const std::vector<GridPanel>& panels,
                  const ColourScale& scale, const std::string& note) {
  struct Layout {
    double cell_w, cell_h, font, left, top, width, height;
  };
  std::vector<Layout> layouts;
  double width = std::max(360.0, label_width(caption, 14) * 1.1 + 20);
  width = std::max(width, label_width(note, 11) + 30);
  // The colour scale and its legend, on one line below the panels.
  constexpr double kScaleX = 20, kScaleWidth = 200;
  width = std::max(width, kScaleX + kScaleWidth + 12 + label_width(scale.legend, 11) + 12);
  double height = 34;
  for (const GridPanel& p : panels) {
    const size_t rows = p.row_labels.size(), cols = p.col_labels.size();
    if (p.values.size() != rows * cols ||
        (!p.cell_text.empty() && p.cell_text.size() != rows * cols))
      throw std::invalid_argument(fmt::format("grid '{}': {} values and {} cell texts for {} x {}",
                                              p.title, p.values.size(), p.cell_text.size(), rows,
                                              cols));
    Layout l{};
    l.cell_h = std::clamp(320.0 / double(std::max<size_t>(rows, 1)), 14.0, 30.0);
    l.font = std::min(11.0, l.cell_h * 0.7);
    double text_w = 0;
    for (const auto& t : p.cell_text)
      text_w = std::max(text_w, label_width(visible_token(t), l.font));
    l.cell_w =
        std::max({std::clamp(480.0 / double(std::max<size_t>(cols, 1)), 16.0, 40.0), text_w + 6});
    l.left = 12 + label_width(p.row_title, 11) + 8;
    for (const auto& r : p.row_labels)
      l.left = std::max(l.left, label_width(visible_token(r), l.font) + 34);
    l.top = 10;
    for (const auto& c : p.col_labels)
      l.top = std::max(l.top, label_width(visible_token(c), l.font) + 10);
    l.width = l.left + l.cell_w * double(cols) + 20;
    l.height = 22 + l.top + l.cell_h * double(rows) + 22;
    width = std::max(width, l.width);
    height += l.height;
    layouts.push_back(l);
  }
  const double legend_h = note.empty() ? 50 : 68;
  Svg svg(width, height + legend_h);
  svg.text(10, 20, caption, 14, "start", "#222", 0, true);
  double y0 = 34;
  for (size_t i = 0; i < panels.size(); ++i) {
    const GridPanel& p = panels[i];
    const Layout& l = layouts[i];
    const size_t rows = p.row_labels.size(), cols = p.col_labels.size();
    const double gx = l.left, gy = y0 + 22 + l.top;
    svg.text(10, y0 + 14, p.title, 12, "start", "#222", 0, true);
    for (size_t c = 0; c < cols; ++c)  // column labels along the top, read bottom to top
      svg.text(gx + l.cell_w * (double(c) + 0.5) + l.font * 0.35, gy - 5,
               visible_token(p.col_labels[c]), l.font, "start", "#333", -90);
    if (!p.col_title.empty())
      svg.text(gx + l.cell_w * double(cols) / 2, gy + l.cell_h * double(rows) + 15, p.col_title, 11,
               "middle", "#555");
    if (!p.row_title.empty())
      svg.text(14, gy + l.cell_h * double(rows) / 2, p.row_title, 11, "middle", "#555", -90);
    for (size_t r = 0; r < rows; ++r) {
      const double cy = gy + l.cell_h * (double(r) + 0.5) + l.font * 0.35;
      svg.text(gx - 5, cy, visible_token(p.row_labels[r]), l.font, "end", "#333");
      for (size_t c = 0; c < cols; ++c) {
        const double v = p.values[r * cols + c];
        const std::string text = p.cell_text.empty() ? "" : p.cell_text[r * cols + c];
        svg.rect(gx + l.cell_w * double(c), gy + l.cell_h * double(r), l.cell_w, l.cell_h,
                 scale_colour(v, scale), "none",
                 fmt::format("{} {}, {} {}: {}{}", p.row_title, p.row_labels[r], p.col_title,
                             p.col_labels[c], std::isfinite(v) ? fmt::format("{:.4g}", v) : "none",
                             text.empty() ? "" : " (" + text + ")"));
        if (!text.empty())
          svg.text(gx + l.cell_w * (double(c) + 0.5), cy, visible_token(text), l.font, "middle",
                   dark(v, scale) ? "#fff" : "#222");
      }
    }
    svg.rect(gx, gy, l.cell_w * double(cols), l.cell_h * double(rows), "none", "#888");
    y0 += l.height;
  }
  // The colour scale.
  const double ly = y0 + 12, lx = kScaleX, lw = kScaleWidth;
  for (int k = 0; k < 50; ++k)
    svg.rect(lx + lw * k / 50.0, ly, lw / 50.0 + 0.5, 12,
             scale_colour(scale.lo + (scale.hi - scale.lo) * k / 49.0, scale));
  svg.rect(lx, ly, lw, 12, "none", "#888");
  const double mid = scale.diverging ? 0.0 : (scale.lo + scale.hi) / 2;
  for (double t : {scale.lo, mid, scale.hi})
    svg.text(lx + lw * (t - scale.lo) / (scale.hi - scale.lo), ly + 26, tick_label(t), 11, "middle",
             "#333");
  svg.text(lx + lw + 12, ly + 11, scale.legend, 11, "start", "#333");
  if (!note.empty()) svg.text(lx, ly + 44, note, 11, "start", "#555");
  return svg;
}

}  // namespace attnlab::report
