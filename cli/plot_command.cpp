// `attnlab plot`: training and held-out curves of one or more runs, one SVG.
#include <fmt/format.h>

#include <filesystem>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "report/attention_curves.h"
#include "report/chart.h"
#include "report/curves.h"
#include "train/output_file.h"
#include "train/run_dir.h"

namespace attnlab {

namespace po = cli::po;

namespace {

// plot --trace: the attention statistics a run logged, per map a row of panels.
int plot_attention(std::string path, const std::string& out) {
  if (std::filesystem::is_directory(path)) path = run_files::in(path, run_files::kMetrics);
  check_output_path(out, "--out", {path});
  report::AttentionCurves curves;
  try {
    curves = report::read_attention_curves(path);
  } catch (const std::runtime_error& e) {
    throw cli::UsageError(fmt::format("--trace {}", e.what()));
  }
  for (const std::string& w : curves.warnings) fmt::print(stderr, "warning: {}\n", w);
  const size_t per_map = report::special_share_seen(curves) ? 3 : 2;
  report::line_charts(report::attention_panels(curves), 420, 280, per_map).save(out);
  fmt::print("wrote {} ({} attentions of {})\n", out, curves.maps.size(), curves.name);
  return cli::kExitOk;
}

}  // namespace

int plot_command(int argc, char** argv) {
  po::options_description options("plot options");
  std::vector<std::string> metrics;
  std::string out, x_axis = "step", trace;
  options.add_options()  //
      ("metrics", po::value(&metrics)->multitoken(),
       "metrics.jsonl files (or run directories), one curve each")  //
      ("trace", po::value(&trace),
       "instead: a run trained with --trace-every, each head's entropy and distance (or "
       "monotonicity) against the step")  //
      ("out", po::value(&out),
       "the SVG to write (default curves.svg; attention.svg with --trace)")  //
      ("x", po::value(&x_axis)->default_value(x_axis), "step or time (seconds of training)");
  po::variables_map vm;
  if (!cli::parse_options("plot",
                          "Plots the training loss and held-out metrics of one or more runs on "
                          "one chart (SVG).\nExample: attnlab plot --metrics runs/a runs/b --out "
                          "curves.svg",
                          argc, argv, options, vm))
    return cli::kExitOk;
  if (metrics.empty() == trace.empty())
    throw cli::UsageError("give --metrics RUN... for training curves, or --trace RUN");
  if (!trace.empty() && x_axis != "step")
    throw cli::UsageError("--trace plots against the step; --x time goes with --metrics");
  if (!trace.empty()) return plot_attention(trace, out.empty() ? "attention.svg" : out);
  if (out.empty()) out = "curves.svg";
  if (x_axis != "step" && x_axis != "time")
    throw cli::UsageError(fmt::format("--x: '{}' is not step or time", x_axis));
  const bool by_time = x_axis == "time";
  std::vector<std::string> inputs;
  for (std::string path : metrics) {
    if (std::filesystem::is_directory(path)) path = run_files::in(path, run_files::kMetrics);
    inputs.push_back(path);
  }
  check_output_path(out, "--out", inputs);
  std::vector<report::RunCurves> runs;
  for (const std::string& path : inputs) {
    try {
      runs.push_back(report::read_curves(path));
    } catch (const std::runtime_error& e) {
      throw cli::UsageError(fmt::format("--metrics {}", e.what()));
    }
    for (const std::string& w : runs.back().warnings) fmt::print(stderr, "warning: {}\n", w);
  }
  // Two runs from directories of the same name get their paths as names.
  for (size_t i = 0; i < runs.size(); ++i)
    for (size_t j = 0; j < runs.size(); ++j)
      if (i != j && runs[i].name == runs[j].name) runs[i].name = metrics[i];

  const std::string x_label = by_time ? "training time (s)" : "step";
  report::Panel train{"training loss", x_label, "loss", {}};
  report::Panel valid_loss{"held-out loss", x_label, "loss", {}};
  std::string score_name;
  for (const auto& r : runs)
    if (score_name.empty()) score_name = r.score_name;
  report::Panel score{"held-out " + (score_name.empty() ? std::string("score") : score_name),
                      x_label,
                      score_name.empty() ? "score" : score_name,
                      {}};
  const auto series = [&](const std::vector<report::CurvePoint>& points, size_t colour,
                          const std::string& name, bool markers) {
    report::Series s{name, {}, colour, markers};
    for (const auto& p : points) s.points.push_back({by_time ? p.seconds : p.step, p.value});
    return s;
  };
  for (size_t i = 0; i < runs.size(); ++i) {
    const auto& r = runs[i];
    train.series.push_back(series(r.train_loss, i, r.name, false));
    valid_loss.series.push_back(series(r.valid_loss, i, r.name, true));
    if (!r.score_name.empty() && r.score_name == score_name)
      score.series.push_back(series(r.valid_score, i, r.name, true));
    else if (!r.score_name.empty())
      fmt::print(stderr, "note: {} reports {}, not {}; it is left out of the score panel\n", r.name,
                 r.score_name, score_name);
  }
  report::line_charts({train, valid_loss, score}).save(out);
  fmt::print("wrote {} ({} run{})\n", out, runs.size(), runs.size() == 1 ? "" : "s");
  return cli::kExitOk;
}

}  // namespace attnlab
