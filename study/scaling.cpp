#include "study/scaling.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

namespace attnlab::study {

namespace {

// The fit at one exponent b: L = a u + c with u = (C / C0)^(-b) is linear in
// a and c, so both come from least squares in closed form (c held at 0
// where the unconstrained c would be negative). C0, the smallest compute,
// keeps u near 1 whatever the exponent.
struct ExponentFit {
  double a = 0, c = 0, sse = INFINITY;  // a in units of C0
};

ExponentFit fit_at_exponent(const std::vector<ScalingPoint>& points, double c0, double b) {
  const double n = double(points.size());
  double su = 0, sl = 0, suu = 0, sul = 0;
  for (const ScalingPoint& p : points) {
    const double u = std::pow(p.flops / c0, -b);
    su += u, sl += p.loss, suu += u * u, sul += u * p.loss;
  }
  ExponentFit f;
  const double denominator = n * suu - su * su;
  if (!(denominator > 0)) return f;
  f.a = (n * sul - su * sl) / denominator;
  f.c = (sl - f.a * su) / n;
  if (f.c < 0) f.c = 0, f.a = sul / suu;
  f.sse = 0;
  for (const ScalingPoint& p : points) {
    const double e = p.loss - (f.a * std::pow(p.flops / c0, -b) + f.c);
    f.sse += e * e;
  }
  return f;
}

}  // namespace

double PowerLawFit::at(double flops) const {
  return a * std::pow(flops, -b) + c;
}

std::vector<ScalingPoint> scaling_points(const std::vector<ScalingRun>& runs,
                                         const std::string& label) {
  // Per compute, per cell: the losses of its seeds.
  std::map<double, std::map<std::string, std::vector<double>>> by_flops;
  for (const ScalingRun& r : runs)
    if (r.label == label && r.flops > 0 && std::isfinite(r.loss))
      by_flops[r.flops][r.cell].push_back(r.loss);
  std::vector<ScalingPoint> points;
  for (const auto& [flops, cells] : by_flops) {
    ScalingPoint best;
    for (const auto& [cell, losses] : cells) {
      double mean = 0;
      for (double l : losses) mean += l / double(losses.size());
      if (best.seeds == 0 || mean < best.loss) best = {flops, mean, cell, int(losses.size())};
    }
    points.push_back(best);
  }
  return points;
}

PowerLawFit fit_power_law(const std::vector<ScalingPoint>& points) {
  PowerLawFit fit;
  if (points.size() < kMinScalingPoints) {
    fit.why_not = fmt::format("{} compute{}: a fit of three parameters needs at least {}",
                              points.size(), points.size() == 1 ? "" : "s", kMinScalingPoints);
    return fit;
  }
  double mean = 0;
  for (const ScalingPoint& p : points) mean += p.loss;
  mean /= double(points.size());
  // The exponent: a scan of b on a log grid over (0, 10], then golden-section
  // search between the neighbours of the best of it; a and c follow from b.
  const double c0 = points.front().flops;
  constexpr int kScan = 400;
  constexpr double kLowest = 1e-3, kHighest = 10;
  const auto exponent = [&](int k) {
    return kLowest * std::pow(kHighest / kLowest, k / double(kScan));
  };
  int best_k = 0;
  ExponentFit best = fit_at_exponent(points, c0, exponent(0));
  for (int k = 1; k <= kScan; ++k)
    if (const ExponentFit f = fit_at_exponent(points, c0, exponent(k)); f.sse < best.sse)
      best = f, best_k = k;
  double best_b = exponent(best_k);
  double lo = exponent(std::max(0, best_k - 1)), hi = exponent(std::min(kScan, best_k + 1));
  const double golden = (std::sqrt(5.0) - 1) / 2;
  for (int it = 0; it < 80; ++it) {
    const double b1 = hi - golden * (hi - lo), b2 = lo + golden * (hi - lo);
    if (fit_at_exponent(points, c0, b1).sse < fit_at_exponent(points, c0, b2).sse)
      hi = b2;
    else
      lo = b1;
  }
  if (const ExponentFit f = fit_at_exponent(points, c0, (lo + hi) / 2); f.sse < best.sse)
    best = f, best_b = (lo + hi) / 2;
  fit.b = best_b, fit.c = best.c;
  fit.a = best.a * std::pow(c0, best_b);  // a C^(-b) = a_0 (C / C0)^(-b)
  double total = 0;
  for (const ScalingPoint& p : points) {
    total += (p.loss - mean) * (p.loss - mean);
    fit.residual.push_back(p.loss - fit.at(p.flops));
  }
  fit.r2 = total > 0 ? 1 - best.sse / total : 0;
  if (!std::isfinite(best.sse) || !(best.a > 0)) {
    fit.why_not = "the loss does not fall with compute";
  } else if (best_b > 0.999 * kHighest) {
    // The law would be a step: the first point above a flat rest.
    fit.why_not = fmt::format(
        "the loss falls once and then stays level: no power law runs through the points (the "
        "exponent reached its bound, {})",
        kHighest);
  } else if (fit.r2 < kMinScalingR2) {
    fit.why_not = fmt::format(
        "too noisy: the best power law explains R² = {:.2f} of the spread "
        "(at least {} needed)",
        fit.r2, kMinScalingR2);
  } else {
    fit.fitted = true;
  }
  return fit;
}

std::vector<std::string> scaling_labels(const std::vector<ScalingRun>& runs) {
  std::vector<std::string> labels;
  for (const ScalingRun& r : runs)
    if (std::find(labels.begin(), labels.end(), r.label) == labels.end()) labels.push_back(r.label);
  return labels;
}

bool has_scaling_curve(const std::vector<ScalingRun>& runs) {
  for (const std::string& label : scaling_labels(runs))
    if (scaling_points(runs, label).size() > 1) return true;
  return false;
}

report::Svg scaling_chart(const std::vector<ScalingRun>& runs, const std::string& title) {
  report::Panel panel{title, "training FLOPs (log scale)", "held-out loss", {}, true};
  const std::vector<std::string> labels = scaling_labels(runs);
  for (size_t i = 0; i < labels.size(); ++i) {
    const std::vector<ScalingPoint> points = scaling_points(runs, labels[i]);
    // The points alone where a fit draws the curve through them, joined where none does.
    const PowerLawFit fit = fit_power_law(points);
    report::Series observed{labels[i], {}, i, true, !fit.fitted};
    for (const ScalingPoint& p : points) observed.points.push_back({p.flops, p.loss});
    panel.series.push_back(observed);
    if (!fit.fitted) continue;
    // The fitted curve, dashed, over the points' range.
    report::Series curve{labels[i], {}, i, false, true, "6,4"};
    const double lo = std::log(points.front().flops), hi = std::log(points.back().flops);
    for (int k = 0; k <= 40; ++k) {
      const double flops = std::exp(lo + (hi - lo) * k / 40.0);
      curve.points.push_back({flops, fit.at(flops)});
    }
    panel.series.push_back(curve);
  }
  return report::line_charts({panel}, 640, 400);
}

report::Table scaling_table(const std::vector<ScalingRun>& runs) {
  report::Table table{
      {"model", "points (FLOPs: loss, best setting)", "fit L = a·C^(-b) + c", "R²", "residuals"}};
  for (const std::string& label : scaling_labels(runs)) {
    const std::vector<ScalingPoint> points = scaling_points(runs, label);
    std::string observed;
    for (const ScalingPoint& p : points)
      observed +=
          fmt::format("{}{}: {:.4f}{}", observed.empty() ? "" : "; ", report::si_number(p.flops),
                      p.loss, p.cell.empty() ? "" : " (" + p.cell + ")");
    const PowerLawFit fit = fit_power_law(points);
    std::string residuals;
    for (double e : fit.residual)
      residuals += fmt::format("{}{:+.4f}", residuals.empty() ? "" : " ", e);
    table.rows.push_back(
        {label, observed,
         fit.fitted ? fmt::format("a = {:.4g}, b = {:.4f}, c = {:.4f}", fit.a, fit.b, fit.c)
                    : "no fit: " + fit.why_not,
         fit.residual.empty() ? "-" : fmt::format("{:.3f}", fit.r2),
         residuals.empty() ? "-" : residuals});
  }
  return table;
}

std::string scaling_explanation() {
  return fmt::format(
      "Each point is one training compute C (training FLOPs, describe's formulas times the "
      "tokens trained) and the lowest held-out loss reached at it, over the grid's other "
      "settings, mean over seeds. The fit is least squares on the loss, with the offset c (the "
      "loss more compute would not remove) at least 0; it needs {} points and is shown only "
      "when it explains at least R² = {} of their spread. Residuals are observed minus fitted, "
      "in the points' order. A held-out loss is of each family's own objective: compare "
      "slopes across families, not levels, when their objectives differ.",
      kMinScalingPoints, kMinScalingR2);
}

std::vector<ScalingRun> scaling_runs(const std::vector<Json>& results) {
  std::vector<ScalingRun> runs;
  for (const Json& j : results) {
    if (j.contains("stage") || !j.contains("training_flops") || !j.contains("loss")) continue;
    if (!j.at("loss").is_number() || !j.at("training_flops").is_number()) continue;
    runs.push_back({j.value("label", j.value("model", std::string("?"))),
                    j.at("training_flops").get<double>(), j.at("loss").get<double>(),
                    j.value("cell", std::string())});
  }
  return runs;
}

}  // namespace attnlab::study
