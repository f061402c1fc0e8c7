// `attnlab trace`: one example through a trained model, every attention map
// and hidden state to HDF5 (docs/trace.md), with per-head statistics and,
// with --svg, a heatmap picture per attention.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "common/errors.h"
#include "framing/attention_statistics.h"
#include "io/hdf5.h"
#include "report/attention_picture.h"
#include "report/table.h"
#include "study/loaded_run.h"
#include "train/output_file.h"

namespace attnlab {

namespace po = cli::po;

namespace {

// The per-head statistics of one map as HDF5 datasets under `path`.
void write_map_statistics(H5File& f, const std::string& path, const MapStatistics& m) {
  const int64_t heads = int64_t(m.heads.size());
  f.write<double>(path + "/entropy", m.entropy(), {heads});
  f.write<double>(path + "/special_share", m.special_share(), {heads});
  if (m.has_distance()) f.write<double>(path + "/distance", m.distance(), {heads});
  if (m.has_monotonicity()) f.write<double>(path + "/monotonicity", m.monotonicity(), {heads});
  f.set_attribute(path, "kind", m.kind);
  f.set_attribute(path, "query_axis", m.query_axis);
  f.set_attribute(path, "key_axis", m.key_axis);
}

double mean_of(const std::vector<double>& xs) {
  double sum = 0;
  for (double x : xs) sum += x / double(xs.size());
  return sum;
}

// trace --valid: the statistics of every head over the held-out set.
int trace_held_out(const LoadedRun& run, const std::string& valid_file, const std::string& out,
                   int64_t examples) {
  const HeldOut held = held_out_of(run, valid_file);
  const AttentionStatistics stats =
      attention_statistics(*run.framing, held.examples, size_t(examples));
  if (stats.examples == 0)
    throw InputError(
        fmt::format("--valid: {} holds no example to take statistics over", held.source));
  PendingFile pending(out);
  H5File f = H5File::create(pending.temporary());
  f.set_attribute("/", "format", "attnlab-attention-statistics");
  f.set_attribute("/", "format_version", "1");
  f.set_attribute("/", "checkpoint", run.file);
  f.set_attribute("/", "data", held.source);
  f.set_attribute("/", "examples", std::to_string(stats.examples));
  fmt::print("{} ({}) on {}: {} {} on their reference pairs\n", run.file,
             which_model(run.file, run.info), held.source, stats.examples,
             run.framing->streams_blocks() ? "pieces of text" : "examples");
  report::Table table{
      {"attention", "kind", "head", "entropy (nats)", "distance", "special share", "monotone"}};
  const auto number = [](double x, const char* format) {
    return std::isnan(x) ? std::string("-") : fmt::format(fmt::runtime(format), x);
  };
  for (const MapStatistics& m : stats.maps) {
    write_map_statistics(f, "attention/" + m.name, m);
    const auto e = m.entropy(), d = m.distance(), sp = m.special_share(), mo = m.monotonicity();
    for (size_t h = 0; h < m.heads.size(); ++h)
      table.rows.push_back({m.name, m.kind, std::to_string(h), number(e[h], "{:.3f}"),
                            number(d[h], "{:.2f}"), number(sp[h], "{:.3f}"),
                            number(mo[h], "{:.2f}")});
  }
  f.close();
  pending.publish();
  fmt::print("\n{}\nwrote {}\n", table.markdown(), out);
  return cli::kExitOk;
}

}  // namespace

int trace_command(int argc, char** argv) {
  po::options_description options("trace options");
  std::string ckpt, input, out, svg_dir, valid_file;
  int64_t examples = 0;
  options.add_options()                                                                 //
      ("ckpt", po::value(&ckpt)->required(), "checkpoint file, or a run directory")     //
      ("input", po::value(&input), "the text to run")                                   //
      ("valid", "instead of one input: every head's statistics over the held-out set")  //
      ("valid-file", po::value(&valid_file),
       "with --valid: this data instead of the run's held-out split")  //
      ("examples", po::value(&examples)->default_value(0),
       "with --valid: the first N examples (0 = all)")                                          //
      ("out", po::value(&out), "HDF5 file to write (default trace.h5; stats.h5 with --valid)")  //
      ("svg", po::value(&svg_dir), "also draw every attention map as SVG into this directory");
  po::variables_map vm;
  if (!cli::parse_options("trace",
                          "Runs one example and records where every attention looks: the weights "
                          "per layer and head, the hidden states after each block, and per-head "
                          "entropy (and, for cross-attention, how monotone the alignment is).\n"
                          "Example: attnlab trace --ckpt runs/t5 --input \"March 3, 2021\" "
                          "--svg trace_svg",
                          argc, argv, options, vm))
    return cli::kExitOk;
  const bool valid = vm.count("valid") > 0;
  if (valid == !input.empty())
    throw cli::UsageError("give --input TEXT for one example, or --valid for the held-out set");
  if (!valid && (!valid_file.empty() || examples != 0))
    throw cli::UsageError("--valid-file and --examples go with --valid");
  if (valid && !svg_dir.empty())
    throw cli::UsageError("--svg draws one input's maps: give it with --input");
  if (examples < 0) throw cli::UsageError("--examples must be >= 0");
  if (out.empty()) out = valid ? "stats.h5" : "trace.h5";
  LoadedRun run = load_run(ckpt);
  check_output_path(out, "--out", {run.file, valid_file});
  if (valid) return trace_held_out(run, valid_file, out, examples);
  if (!svg_dir.empty()) prepare_output_directory(svg_dir, "--svg");
  const Trace trace = run.framing->trace(input);
  AttentionStatistics one;
  one.add(trace);
  // Written beside --out and renamed into place when complete.
  PendingFile pending(out);
  H5File f = H5File::create(pending.temporary());
  f.set_attribute("/", "format", "attnlab-trace");
  f.set_attribute("/", "format_version", "1");
  f.set_attribute("/", "checkpoint", run.file);
  f.set_attribute("/", "input", trace.input);
  f.set_attribute("/", "output", trace.output);
  for (const auto& [axis, tokens] : trace.axes) write_string_list(f, "tokens/" + axis, tokens);
  fmt::print("{} ({}): \"{}\" -> \"{}\"\n", run.file, which_model(run.file, run.info), trace.input,
             trace.output);
  fmt::print("  {:<28} {:<19} {:<12} {:>14}  {}\n", "attention", "kind", "shape (H,Tq,Tk)",
             "mean entropy", "monotone (cross)");
  for (const TraceMap& m : trace.maps) {
    const std::string path = "attention/" + m.name;
    f.write<float>(path + "/weights", m.weights.to_floats(), m.weights.shape());
    const MapStatistics& stats = one.maps[size_t(&m - trace.maps.data())];
    write_map_statistics(f, path, stats);
    fmt::print(
        "  {:<28} {:<19} ({},{},{}){:>10.3f}  {}\n", m.name, m.kind, m.weights.size(0),
        m.weights.size(1), m.weights.size(2), mean_of(stats.entropy()),
        stats.has_monotonicity() ? fmt::format("{:.2f}", mean_of(stats.monotonicity())) : "");
    if (svg_dir.empty()) continue;
    std::string file = m.name;
    std::replace(file.begin(), file.end(), '/', '_');
    report::attention_picture(trace, m).save(
        (std::filesystem::path(svg_dir) / (file + ".svg")).string());
  }
  for (const TraceState& s : trace.states) {
    f.write<float>("hidden/" + s.name, s.hidden.to_floats(), s.hidden.shape());
    f.set_attribute("hidden/" + s.name, "axis", s.axis);
  }
  f.close();
  pending.publish();
  fmt::print("wrote {}{}\n", out, svg_dir.empty() ? "" : fmt::format(" and {}/*.svg", svg_dir));
  return cli::kExitOk;
}

}  // namespace attnlab
