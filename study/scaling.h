// Scaling curves: held-out loss against training compute, per family, and a
// power law with an offset fitted to them, L(C) = a * C^(-b) + c, as
// Chinchilla-style studies fit them. compare's report and `attnlab plot
// --scaling` draw them from a sweep over sizes.
#pragma once

#include <string>
#include <vector>

#include "common/json.h"
#include "report/chart.h"
#include "report/table.h"

namespace attnlab::study {

// One trained run as a scaling curve needs it.
struct ScalingRun {
  std::string label;  // the family's row (gpt, gpt-prefix, ...)
  double flops = 0;   // training FLOPs of the run
  double loss = 0;    // its final held-out loss
  std::string cell;   // its setting in the grid
};

// One point of a label's curve: the runs of one compute, the best of their
// settings (mean over seeds) kept: the compute-efficient frontier.
struct ScalingPoint {
  double flops = 0, loss = 0;
  std::string cell;
  int seeds = 0;
};

// The points of `label`, by compute.
std::vector<ScalingPoint> scaling_points(const std::vector<ScalingRun>& runs,
                                         const std::string& label);

// The fit of L = a * C^(-b) + c (c >= 0) by least squares on the loss.
struct PowerLawFit {
  bool fitted = false;
  std::string why_not;  // when not fitted: too few points, no fall, too noisy
  double a = 0, b = 0, c = 0;
  double r2 = 0;                 // 1 - residual / total sum of squares
  std::vector<double> residual;  // observed - fitted, per point
  double at(double flops) const;
};

// The points needed for a fit: more than its three parameters.
inline constexpr size_t kMinScalingPoints = 4;
// Below this R^2 the points are called too noisy for the fit to mean much.
inline constexpr double kMinScalingR2 = 0.9;

PowerLawFit fit_power_law(const std::vector<ScalingPoint>& points);

// The labels of `runs` in order, each once.
std::vector<std::string> scaling_labels(const std::vector<ScalingRun>& runs);
// Whether any label has runs at more than one compute: a curve to draw.
bool has_scaling_curve(const std::vector<ScalingRun>& runs);

// Held-out loss against training FLOPs (log x), a colour per label, its fit
// dashed where there is one.
report::Svg scaling_chart(const std::vector<ScalingRun>& runs, const std::string& title);
// Per label: its points, and the fit's a, b, c, R^2 and residuals, or why
// there is none.
report::Table scaling_table(const std::vector<ScalingRun>& runs);
std::string scaling_explanation();

// The runs of a comparison's results.jsonl lines (compared runs only).
std::vector<ScalingRun> scaling_runs(const std::vector<Json>& results);

}  // namespace attnlab::study
