// Scaling curves: the power law L = a * C^(-b) + c fitted to held-out loss
// against training compute, the points a sweep gives, and where a fit is
// refused; and compare and plot drawing them from a size grid.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>

#include "cli_process.h"
#include "study/scaling.h"
#include "xml_check.h"

using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using namespace cli_test;
namespace fs = std::filesystem;
using attnlab::study::fit_power_law;
using attnlab::study::ScalingPoint;
using attnlab::study::ScalingRun;

namespace {

// Points on a known law, at computes a decade apart from 1e9.
std::vector<ScalingPoint> on_law(double a, double b, double c, int n) {
  std::vector<ScalingPoint> points;
  for (int i = 0; i < n; ++i) {
    const double flops = 1e9 * std::pow(10.0, i);
    points.push_back({flops, a * std::pow(flops, -b) + c, "", 1});
  }
  return points;
}

}  // namespace

TEST_CASE("scaling: the fit recovers a known power law with an offset") {
  const auto fit = fit_power_law(on_law(40.0, 0.15, 0.8, 6));
  REQUIRE(fit.fitted);
  CHECK_THAT(fit.b, WithinRel(0.15, 1e-3));
  CHECK_THAT(fit.a, WithinRel(40.0, 1e-2));
  CHECK_THAT(fit.c, WithinRel(0.8, 1e-3));
  CHECK(fit.r2 > 0.999999);
  REQUIRE(fit.residual.size() == 6);
  for (double e : fit.residual) CHECK(std::abs(e) < 1e-4);
  // Without an offset too: c = 0 is allowed.
  const auto pure = fit_power_law(on_law(10.0, 0.2, 0.0, 5));
  REQUIRE(pure.fitted);
  CHECK_THAT(pure.b, WithinRel(0.2, 1e-3));
  CHECK(pure.c < 1e-3);
}

TEST_CASE("scaling: the fit is a least-squares minimum on the loss, not on its log") {
  // A loss that falls faster than a power law, as dates did at d_model 32 to 256: a fit of
  // ln L would follow the smallest losses and miss the largest by most of their value.
  const std::vector<ScalingPoint> points = {{397e9, 1.0127, "", 2},
                                            {933e9, 0.6406, "", 2},
                                            {2.42e12, 0.0855, "", 2},
                                            {7.08e12, 0.0047, "", 2}};
  const auto fit = fit_power_law(points);
  REQUIRE(fit.residual.size() == 4);
  const auto sse = [&](double a, double b, double c) {
    double total = 0;
    for (const ScalingPoint& p : points) {
      const double e = p.loss - (a * std::pow(p.flops, -b) + c);
      total += e * e;
    }
    return total;
  };
  const double at_fit = sse(fit.a, fit.b, fit.c);
  double explained = 0, mean = 0;
  for (const ScalingPoint& p : points) mean += p.loss / 4;
  for (const ScalingPoint& p : points) explained += (p.loss - mean) * (p.loss - mean);
  CHECK_THAT(fit.r2, WithinAbs(1 - at_fit / explained, 1e-9));
  CHECK(fit.r2 > 0.9);
  // No nearby parameters do better: each moved by 1% either way (c, at its bound 0, upward).
  for (double step : {-0.01, 0.01}) {
    CHECK(sse(fit.a * (1 + step), fit.b, fit.c) >= at_fit);
    CHECK(sse(fit.a, fit.b * (1 + step), fit.c) >= at_fit);
    CHECK(sse(fit.a, fit.b, std::max(0.0, fit.c + step * 0.01)) >= at_fit * (1 - 1e-9));
  }
}

TEST_CASE("scaling: too few, rising or scattered points get no fit, and say why") {
  const auto few = fit_power_law(on_law(40.0, 0.15, 0.8, 3));
  CHECK_FALSE(few.fitted);
  CHECK_THAT(few.why_not, Contains("3 computes") && Contains("at least 4"));
  std::vector<ScalingPoint> rising = on_law(40.0, 0.15, 0.8, 5);
  for (size_t i = 0; i < rising.size(); ++i) rising[i].loss = 1.0 + 0.1 * double(i);
  const auto up = fit_power_law(rising);
  CHECK_FALSE(up.fitted);
  CHECK_THAT(up.why_not, Contains("does not fall"));
  std::vector<ScalingPoint> scattered = on_law(40.0, 0.15, 0.8, 6);
  const double noise[] = {0.0, 0.5, -0.3, 0.6, -0.4, 0.3};
  for (size_t i = 0; i < scattered.size(); ++i) scattered[i].loss = 2.0 + noise[i];
  // A drop, then a plateau: T5 on the counting text, d_model 32 to 256.
  const auto step = fit_power_law({{1.72e12, 2.1128, "", 1},
                                   {4.05e12, 1.7882, "", 1},
                                   {10.5e12, 1.8772, "", 1},
                                   {30.7e12, 1.8396, "", 1}});
  CHECK_FALSE(step.fitted);
  CHECK_THAT(step.why_not, Contains("stays level"));
  const auto noisy = fit_power_law(scattered);
  CHECK_FALSE(noisy.fitted);
  CHECK_THAT(noisy.why_not, Contains("too noisy") || Contains("does not fall"));
}

TEST_CASE("scaling: a compute's point is its best setting, averaged over seeds") {
  const std::vector<ScalingRun> runs = {{"gpt", 1e9, 2.0, "d16-lr1e-3"},
                                        {"gpt", 1e9, 1.6, "d16-lr3e-3"},
                                        {"gpt", 1e9, 1.8, "d16-lr3e-3"},
                                        {"gpt", 4e9, 1.2, "d32-lr1e-3"},
                                        {"t5", 2e9, 1.5, "d16-lr1e-3"}};
  const auto points = attnlab::study::scaling_points(runs, "gpt");
  REQUIRE(points.size() == 2);
  CHECK(points[0].cell == "d16-lr3e-3");
  CHECK_THAT(points[0].loss, WithinRel(1.7, 1e-12));
  CHECK(points[0].seeds == 2);
  CHECK(points[1].flops == 4e9);
  CHECK(attnlab::study::has_scaling_curve(runs));
  CHECK_FALSE(attnlab::study::has_scaling_curve({runs[4]}));
  const auto table = attnlab::study::scaling_table(runs);
  REQUIRE(table.rows.size() == 2);
  CHECK_THAT(table.rows[0][2], Contains("no fit: 2 computes"));
}

TEST_CASE("scaling: compare and plot draw loss against compute for a size grid") {
  const fs::path out = fresh_dir("scaling_grid");
  Run r =
      run(fmt::format("compare --task reverse --models gpt,t5 --heads 2 --layers 1 "
                      "--batch-size 16 --steps 40 --d-model 8,16,24,32 --quiet --out {}",
                      out.string()));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::string html = read_text(out / "report.html");
  REQUIRE(xml_check::check(html) == "");
  CHECK_THAT(html, Contains("<h2>Scaling</h2>") && Contains("fit L = a·C^(-b) + c"));
  const std::string svg = read_text(out / "scaling.svg");
  CHECK(xml_check::check(svg) == "");
  CHECK_THAT(svg, Contains("training FLOPs (log scale)"));
  CHECK_THAT(read_text(out / "compare.md"), Contains("## Scaling"));
  r = run(fmt::format("plot --scaling {} --out {}", out.string(), (out / "again.svg").string()));
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("| gpt ") && Contains("| t5 ") && Contains("R²"));
  CHECK(read_text(out / "again.svg") == svg);
  // A grid of learning rates alone has one compute per family: no curve.
  const fs::path flat = fresh_dir("scaling_flat");
  REQUIRE(run(fmt::format("compare --task reverse --models gpt --heads 2 --layers 1 --d-model 8 "
                          "--batch-size 16 --steps 10 --lr 1e-3,3e-3 --quiet --out {}",
                          flat.string()))
              .exit_code == 0);
  CHECK(!fs::exists(flat / "scaling.svg"));
  r = run(fmt::format("plot --scaling {} --out {}", flat.string(), (flat / "s.svg").string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("the same training compute"));
  r = run(fmt::format("plot --scaling {} --out {}", (flat / "nothing").string(),
                      (flat / "s.svg").string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("cannot read it"));
  fs::remove_all(out);
  fs::remove_all(flat);
}
