// Line charts: panels side by side sharing one legend, for training curves
// (attnlab plot) and the compare report.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "report/svg.h"

namespace attnlab::report {

struct Series {
  std::string name;                               // legend entry
  std::vector<std::pair<double, double>> points;  // (x, y), x increasing
  size_t colour = 0;                              // index into series_colour
  bool markers = false;                           // a dot at every point (sparse series)
  bool line = true;                               // false: the dots alone
  std::string dash;                               // SVG dash pattern ("5,4"), "" for solid
};

struct Panel {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  // A logarithmic x axis with a tick at every power of ten (points with
  // x <= 0 are left out), for compute that spans decades.
  bool log_x = false;
};

// Rows of panels (`per_row` to a row; 0: all in one), then a legend of
// every series name (once per name).
Svg line_charts(const std::vector<Panel>& panels, double panel_width = 380,
                double panel_height = 280, size_t per_row = 0);

}  // namespace attnlab::report
