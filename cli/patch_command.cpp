// `attnlab patch`: activation patching between a clean and a corrupt input,
// as a table, JSON lines or an SVG. The patching itself is study/patch.h.
#include <fmt/format.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "common/json.h"
#include "study/loaded_run.h"
#include "study/patch.h"
#include "train/output_file.h"

namespace attnlab {

int patch_command(int argc, char** argv) {
  namespace po = cli::po;
  po::options_description options("patch options");
  std::string ckpt, clean, corrupt, svg, format, metric_text;
  int64_t top = 5;
  options.add_options()                                                               //
      ("ckpt", po::value(&ckpt)->required(), "checkpoint file, or a run directory")   //
      ("clean", po::value(&clean)->required(), "the input whose answer is restored")  //
      ("corrupt", po::value(&corrupt)->required(),
       "an input of the same length in tokens that gives another answer")                   //
      ("svg", po::value(&svg), "also draw a blocks x positions heatmap per sublayer kind")  //
      ("heads", "also patch every head of every attention, one at a time")                  //
      ("metric", po::value(&metric_text)->default_value("logprob"),
       "what is restored: logprob (the clean answer's log-probability) or logit-diff (its logit "
       "minus the corrupt run's answer's)")                                                //
      ("top", po::value(&top)->default_value(top), "rows of the table per sublayer kind")  //
      ("format", po::value(&format)->default_value("text"),
       "text: the answer and a table; jsonl: one JSON object per block, sublayer and position");
  po::variables_map vm;
  if (!cli::parse_options(
          "patch",
          "Activation patching: runs the corrupt input with one block's sublayer output (self- "
          "or cross-attention, feed-forward, or the block's output) at one position restored "
          "from the clean run, for every block, sublayer and position, and reports how much of "
          "the clean answer's log-probability comes back (0: none of the gap, 1: all).\n"
          "Example: attnlab patch --ckpt runs/dates-t5 --clean \"3 March 1987\" --corrupt \"4 "
          "March 1987\" --svg patch.svg",
          argc, argv, options, vm))
    return cli::kExitOk;
  if (top < 1) throw cli::UsageError("--top must be at least 1");
  if (format != "text" && format != "jsonl")
    throw cli::UsageError(fmt::format("--format {}: give text or jsonl", format));
  study::PatchMetric metric;
  try {
    metric = enum_from_name(study::kPatchMetricNames, metric_text, "--metric");
  } catch (const std::invalid_argument& e) {
    throw cli::UsageError(e.what());
  }
  LoadedRun run = load_run(ckpt);
  if (!svg.empty()) check_output_path(svg, "--svg", {run.file});
  study::PatchResult result;
  try {
    result = study::activation_patching(*run.model, *run.framing, *run.vocab, clean, corrupt,
                                        vm.count("heads") > 0, metric);
  } catch (const std::invalid_argument& e) {
    throw cli::UsageError(fmt::format("--clean/--corrupt: {}", e.what()));
  }
  if (!svg.empty()) study::patch_picture(result, fmt::format("patch {}", run.file)).save(svg);
  const study::PatchAnswer& a = result.answer;
  if (format == "jsonl") {
    for (const study::PatchGrid& g : result.grids)
      for (size_t cell = 0; cell < g.restored.size(); ++cell) {
        const size_t pos = cell % g.clean_tokens.size();
        const size_t row = cell / g.clean_tokens.size();
        Json j = {{"stack", g.stack}, {"sublayer", g.sublayer}, {"block", g.blocks[row]}};
        if (g.heads[row] >= 0) j["head"] = g.heads[row];
        j.update(Json{{"position", pos},
                      {"clean_token", g.clean_tokens[pos]},
                      {"corrupt_token", g.corrupt_tokens[pos]},
                      {"answer", a.answer_name},
                      {"log_prob", g.log_prob[cell]},
                      {"clean_log_prob", a.clean_log_prob},
                      {"corrupt_log_prob", a.corrupt_log_prob},
                      {"metric", metric_text},
                      {"value", g.metric[cell]},
                      {"clean_value", a.clean_metric},
                      {"corrupt_value", a.corrupt_metric},
                      {"restored", g.restored[cell]}});
        fmt::print("{}\n", json_line(j));
      }
    return cli::kExitOk;
  }
  fmt::print(
      "{} ({})\nclean \"{}\", corrupt \"{}\": after \"{}\" the clean run writes '{}' (log-prob "
      "{:.4f}), the corrupt run '{}' (it gives '{}' {:.4f}).\n\n",
      run.file, which_model(run.file, run.info), clean, corrupt, a.forced_text, a.answer_name,
      a.clean_log_prob, a.contrast_name, a.answer_name, a.corrupt_log_prob);
  fmt::print("Where restoring one clean activation brings '{}' back most:\n\n{}", a.answer_name,
             study::patch_table(result, size_t(top)).markdown());
  fmt::print("\nrestored: (patched - corrupt) / (clean - corrupt) of {}{}.\n",
             metric == study::PatchMetric::LogProb
                 ? "the answer's log-probability"
                 : fmt::format("log P('{}') - log P('{}')", a.answer_name, a.contrast_name),
             metric == study::PatchMetric::LogProb ? ""
                                                   : fmt::format(" (clean {:.4f}, corrupt {:.4f})",
                                                                 a.clean_metric, a.corrupt_metric));
  if (!svg.empty()) fmt::print("wrote {}\n", svg);
  return cli::kExitOk;
}

}  // namespace attnlab
