// Grids of numbers as pictures (ablate's layers x heads, lens's and patch's
// blocks x positions): a panel per grid, each cell coloured on one shared
// scale, optionally labelled, with its exact value on hover and a legend.
#pragma once

#include <string>
#include <vector>

#include "report/svg.h"

namespace attnlab::report {

struct GridPanel {
  std::string title;
  std::vector<std::string> row_labels, col_labels;
  std::string row_title, col_title;    // what the axes are ("block", "position")
  std::vector<double> values;          // (rows, cols) row-major; NaN: no value, drawn grey
  std::vector<std::string> cell_text;  // empty, or (rows, cols): text written in the cells
};

// Sequential: lo is white, hi dark blue. Diverging: lo red, 0 white, hi blue,
// for signed changes (a drop in a score shows red).
struct ColourScale {
  double lo = 0, hi = 1;
  bool diverging = false;
  std::string legend;  // what the colour means
};

// Throws std::invalid_argument naming the panel whose values or cell texts
// are not rows x cols.
Svg grid_heatmaps(const std::string& caption, const std::vector<GridPanel>& panels,
                  const ColourScale& scale, const std::string& note = "");

// The colour of `value` on `scale`.
std::string scale_colour(double value, const ColourScale& scale);

}  // namespace attnlab::report
