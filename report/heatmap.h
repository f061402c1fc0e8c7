// Attention maps as pictures: one heatmap per head (and their average), with
// the query tokens down the side and the key tokens along the top, a shared
// colour scale from 0 to 1 with its legend, and each cell's value on hover.
#pragma once

#include <string>
#include <vector>

#include "report/svg.h"

namespace attnlab::report {

struct HeatmapPanel {
  std::string title;           // "head 0", "average"
  std::vector<double> values;  // (rows, cols) row-major, attention probabilities in [0, 1]
};

// Panels share the axis labels: rows = query tokens, cols = key tokens.
// Throws std::invalid_argument when a panel's size is not rows x cols.
Svg attention_heatmaps(const std::string& caption, const std::vector<HeatmapPanel>& panels,
                       const std::vector<std::string>& row_labels,
                       const std::vector<std::string>& col_labels, int panels_per_row = 4);

// The colour of a probability: white at 0 to dark blue at 1.
std::string heat_colour(double value);

}  // namespace attnlab::report
