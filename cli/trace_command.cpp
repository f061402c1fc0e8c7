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
#include "io/hdf5.h"
#include "report/attention_picture.h"
#include "study/loaded_run.h"
#include "train/output_file.h"

namespace attnlab {

namespace po = cli::po;

namespace {

struct HeadStats {
  std::vector<double> entropy;       // per head: mean over queries of -sum p ln p (nats)
  std::vector<double> monotonicity;  // per head, cross maps: share of steps not moving back
};

// weights (H,Tq,Tk).
HeadStats head_stats(const Tensor& weights, bool alignment) {
  const int64_t heads = weights.size(0), tq = weights.size(1), tk = weights.size(2);
  HeadStats s;
  for (int64_t h = 0; h < heads; ++h) {
    double entropy = 0;
    int64_t forward = 0, prev = -1;
    for (int64_t q = 0; q < tq; ++q) {
      int64_t best = 0;
      double best_p = -1;
      for (int64_t k = 0; k < tk; ++k) {
        const double p = weights.item((h * tq + q) * tk + k);
        if (p > 0) entropy -= p * std::log(p);
        if (p > best_p) best_p = p, best = k;
      }
      if (q > 0) forward += best >= prev;
      prev = best;
    }
    s.entropy.push_back(tq ? entropy / double(tq) : 0.0);
    if (alignment) s.monotonicity.push_back(tq > 1 ? double(forward) / double(tq - 1) : 1.0);
  }
  return s;
}

}  // namespace

int trace_command(int argc, char** argv) {
  po::options_description options("trace options");
  std::string ckpt, input, out = "trace.h5", svg_dir;
  options.add_options()                                                              //
      ("ckpt", po::value(&ckpt)->required(), "checkpoint file, or a run directory")  //
      ("input", po::value(&input)->required(), "the text to run")                    //
      ("out", po::value(&out)->default_value(out), "HDF5 file to write")             //
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
  LoadedRun run = load_run(ckpt);
  check_output_path(out, "--out", {run.file});
  if (!svg_dir.empty()) prepare_output_directory(svg_dir, "--svg");
  const Trace trace = run.framing->trace(input);
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
    f.set_attribute(path, "kind", m.kind);
    f.set_attribute(path, "query_axis", m.query_axis);
    f.set_attribute(path, "key_axis", m.key_axis);
    const bool alignment = m.kind == "cross";
    const HeadStats stats = head_stats(m.weights, alignment);
    f.write<double>(path + "/entropy", stats.entropy, {int64_t(stats.entropy.size())});
    if (alignment)
      f.write<double>(path + "/monotonicity", stats.monotonicity,
                      {int64_t(stats.monotonicity.size())});
    double mean_entropy = 0, mean_mono = 0;
    for (double e : stats.entropy) mean_entropy += e / double(stats.entropy.size());
    for (double x : stats.monotonicity) mean_mono += x / double(stats.monotonicity.size());
    fmt::print("  {:<28} {:<19} ({},{},{}){:>10.3f}  {}\n", m.name, m.kind, m.weights.size(0),
               m.weights.size(1), m.weights.size(2), mean_entropy,
               alignment ? fmt::format("{:.2f}", mean_mono) : "");
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
