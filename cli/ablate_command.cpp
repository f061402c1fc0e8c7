// `attnlab ablate`: the held-out metric and loss of a checkpoint with
// attention heads removed, against the intact model. The ablation itself is
// study/ablation.h; this file reads the options.
#include <fmt/format.h>

#include <filesystem>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "common/errors.h"
#include "common/json.h"
#include "study/ablation.h"
#include "study/loaded_run.h"
#include "train/metrics_log.h"
#include "train/output_file.h"

namespace attnlab {

namespace {

std::string heading(const LoadedRun& run, const std::string& source,
                    const std::vector<study::AblationResult>& results, study::AblationMode mode) {
  return fmt::format("{} ({}) on {} ({} examples), heads removed by {}", run.file,
                     which_model(run.file, run.info), source, results.front().metrics.examples,
                     mode == study::AblationMode::Zero ? "zeroing their output"
                                                       : "their mean output over this data");
}

// --out: the table, and a heatmap per kind of attention for single heads.
std::vector<std::string> write_ablation_files(const std::string& dir, const LoadedRun& run,
                                              const std::string& source,
                                              const std::vector<study::AblationResult>& results,
                                              const std::vector<AttentionModule>& sites,
                                              study::AblationMode mode, bool all_heads) {
  const std::filesystem::path out(dir);
  std::vector<std::pair<std::string, std::string>> files{
      {"ablation.md",
       heading(run, source, results, mode) + ":\n\n" + study::ablation_table(results).markdown()}};
  const std::string title =
      fmt::format("ablate {} on {}: one head removed at a time", run.file, source);
  if (all_heads)
    for (const auto& [name, svg] : study::ablation_heatmaps(results, sites, title))
      files.emplace_back(name, svg.str());
  std::vector<std::string> written;
  for (const auto& [name, bytes] : files) {
    const std::string path = (out / name).string();
    check_output_path(path, "--out", {run.file});
    write_file_atomically(path, bytes);
    written.push_back(path);
  }
  return written;
}

}  // namespace

int ablate_command(int argc, char** argv) {
  namespace po = cli::po;
  po::options_description options("ablate options");
  std::string ckpt, valid_file, heads, mode_text, format, out_dir;
  int64_t examples = 0, batch = 128;
  int threads = 0;
  options.add_options()  //
      ("ckpt", po::value(&ckpt)->required(),
       "checkpoint file, or a run directory (its best.h5, else checkpoint.h5)")  //
      ("valid-file", po::value(&valid_file),
       "score on this data instead of the run's held-out split")  //
      ("heads", po::value(&heads),
       "heads removed together: a comma list of KIND[:LAYER[:HEAD]]; KIND is self, cross, "
       "latent, encoder-self, decoder-self, latent-cross or latent-self (e.g. cross:1:2)")  //
      ("all-heads", "remove every head of every attention, one at a time")                  //
      ("mode", po::value(&mode_text)->default_value("zero"),
       "zero: a removed head outputs zeros; mean: its mean output over the held-out data")  //
      ("examples", po::value(&examples)->default_value(0),
       "score the first N held-out examples (0 = all)")                            //
      ("batch-size", po::value(&batch)->default_value(128), "examples per batch")  //
      ("out", po::value(&out_dir),
       "also write the table (ablation.md) and, with --all-heads, a blocks x heads heatmap per "
       "kind of attention (heads-<kind>.svg) into this directory")  //
      ("format", po::value(&format)->default_value("text"),
       "text: a table; jsonl: one JSON object per ablation")  //
      ("threads", po::value(&threads)->default_value(0), "OpenMP threads (0 = all cores)");
  po::variables_map vm;
  if (!cli::parse_options("ablate",
                          "Removes attention heads of a checkpoint and reports the held-out "
                          "metric and loss without them, against the intact model.\n"
                          "Example: attnlab ablate --ckpt runs/dates-t5 --heads cross",
                          argc, argv, options, vm))
    return cli::kExitOk;
  cli::apply_threads(threads);
  const bool all = vm.count("all-heads") > 0;
  if (all == !heads.empty())
    throw cli::UsageError("give the heads to remove with --heads LIST, or --all-heads");
  if (examples < 0 || batch <= 0)
    throw cli::UsageError("--examples must be >= 0 and --batch-size > 0");
  if (format != "text" && format != "jsonl")
    throw cli::UsageError(fmt::format("--format {}: give text or jsonl", format));
  study::AblationMode mode;
  try {
    mode = enum_from_name(study::kAblationModeNames, mode_text, "--mode");
  } catch (const std::invalid_argument& e) {
    throw cli::UsageError(e.what());
  }

  LoadedRun run = load_run(ckpt);
  if (!out_dir.empty()) prepare_output_directory(out_dir, "--out");
  const std::vector<AttentionModule> sites = attention_sites(*run.model);
  std::vector<study::Ablation> ablations;
  try {
    ablations = all ? study::every_head(sites)
                    : std::vector<study::Ablation>{study::parse_heads(heads, sites)};
  } catch (const std::invalid_argument& e) {
    throw cli::UsageError(e.what());
  }
  const HeldOut held = held_out_of(run, valid_file);
  run.framing->check_lengths(held.examples, "held-out", held.origins);
  const auto encoded = run.framing->encode(held.examples);
  const std::vector<study::AblationResult> results = study::run_ablations(
      *run.model, *run.framing, encoded, ablations, mode, size_t(batch), size_t(examples));

  std::vector<std::string> written;
  if (!out_dir.empty())
    written = write_ablation_files(out_dir, run, held.source, results, sites, mode, all);
  if (format == "jsonl") {
    for (const study::AblationResult& r : results) {
      Json j = {{"removed", r.ablation.label}, {"mode", mode_text}, {"loss", r.metrics.loss}};
      Json heads_json = Json::array();
      for (const auto& [s, hs] : r.ablation.heads)
        heads_json.push_back({{"attention", sites[s].path},
                              {"kind", sites[s].kind},
                              {"layer", sites[s].layer},
                              {"heads", hs}});
      j["heads"] = heads_json;
      add_metric_fields(j, r.metrics);
      fmt::print("{}\n", json_line(j));
    }
    return cli::kExitOk;
  }
  fmt::print("{}:\n\n{}", heading(run, held.source, results, mode),
             study::ablation_table(results).markdown());
  for (const std::string& path : written) fmt::print("wrote {}\n", path);
  return cli::kExitOk;
}

}  // namespace attnlab
