// `attnlab plot`: training and held-out curves of one or more runs, one SVG.
#include <fmt/format.h>

#include <filesystem>
#include <fstream>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "report/attention_curves.h"
#include "report/chart.h"
#include "report/curves.h"
#include "study/scaling.h"
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

// plot --scaling: a comparison's held-out loss against training FLOPs, per
// family, with the power law fitted where the points allow.
int plot_scaling(std::string path, const std::string& out) {
  if (std::filesystem::is_directory(path))
    path = (std::filesystem::path(path) / "results.jsonl").string();
  check_output_path(out, "--out", {path});
  std::ifstream in(path);
  if (!in)
    throw cli::UsageError(fmt::format(
        "--scaling {}: cannot read it (give a compare --out directory, or its results.jsonl)",
        path));
  std::vector<Json> lines;
  size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    if (line.empty()) continue;
    try {
      lines.push_back(Json::parse(line));
    } catch (const Json::exception& e) {
      throw cli::UsageError(
          fmt::format("--scaling {}:{}: not a JSON line ({})", path, n, e.what()));
    }
  }
  const std::vector<study::ScalingRun> runs = study::scaling_runs(lines);
  if (runs.empty())
    throw cli::UsageError(fmt::format(
        "--scaling {}: no run with training_flops and loss (written by attnlab compare)", path));
  if (!study::has_scaling_curve(runs))
    throw cli::UsageError(fmt::format(
        "--scaling {}: every run of each model has the same training compute: compare a grid "
        "of sizes or steps (--d-model 64,128,256 ...) for a curve",
        path));
  study::scaling_chart(runs, "held-out loss against training compute").save(out);
  fmt::print("{}\n{}\nwrote {}\n", study::scaling_table(runs).markdown(),
             study::scaling_explanation(), out);
  return cli::kExitOk;
}

}  // namespace

int plot_command(int argc, char** argv) {
  po::options_description options("plot options");
  std::vector<std::string> metrics;
  std::string out, x_axis = "step", trace, scaling;
  options.add_options()  //
      ("metrics", po::value(&metrics)->multitoken(),
       "metrics.jsonl files (or run directories), one curve each")  //
      ("trace", po::value(&trace),
       "instead: a run trained with --trace-every, each head's entropy and distance (or "
       "monotonicity) against the step")  //
      ("scaling", po::value(&scaling),
       "instead: a compare directory of a size grid, held-out loss against training FLOPs per "
       "family with a fitted power law")  //
      ("out", po::value(&out),
       "the SVG to write (default curves.svg; attention.svg with --trace, scaling.svg with "
       "--scaling)")  //
      ("x", po::value(&x_axis)->default_value(x_axis), "step or time (seconds of training)");
  po::variables_map vm;
  if (!cli::parse_options("plot",
                          "Plots the training loss and held-out metrics of one or more runs on "
                          "one chart (SVG).\nExample: attnlab plot --metrics runs/a runs/b --out "
                          "curves.svg",
                          argc, argv, options, vm))
    return cli::kExitOk;
  if (int(!metrics.empty()) + int(!trace.empty()) + int(!scaling.empty()) != 1)
    throw cli::UsageError(
        "give --metrics RUN... for training curves, --trace RUN, or --scaling COMPARE_DIR");
  if ((!trace.empty() || !scaling.empty()) && !vm["x"].defaulted())
    throw cli::UsageError(
        "--x time goes with --metrics (--trace plots against the step, --scaling against "
        "FLOPs)");
  if (!scaling.empty()) return plot_scaling(scaling, out.empty() ? "scaling.svg" : out);
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
