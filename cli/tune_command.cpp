#include "cli/tune_command.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>

#include "cli/model_options.h"
#include "common/errors.h"
#include "study/compare.h"
#include "study/tune.h"
#include "train/checkpoint.h"
#include "train/output_file.h"
#include "train/run_dir.h"

namespace attnlab::cli {

namespace {

// The options the user fixed, which --tune leaves as given.
std::set<std::string> fixed_options(const po::variables_map& vm) {
  std::set<std::string> fixed;
  if (vm.count("lr")) fixed.insert("lr");
  if (!model_option_given(vm, "dropout").empty()) fixed.insert("dropout");
  if (vm.count("mlm-weight")) fixed.insert("mlm-weight");
  return fixed;
}

study::PlannedRun as_planned(const study::TuneCandidate& c) {
  study::PlannedRun plan;
  plan.family = c.config.model;
  plan.seed = c.config.seed;
  plan.name = c.cell.name();
  plan.config = c.config;
  plan.label = family_name(c.config.model);
  plan.cell = c.cell;
  return plan;
}

}  // namespace

int tune_command(const po::variables_map& vm, TrainConfig base) {
  const double minutes = vm["tune"].as<double>();
  if (!(minutes > 0) || !std::isfinite(minutes) || minutes > 1e6)
    throw UsageError(fmt::format("--tune {}: must be a positive number of minutes", minutes));
  for (const char* option : {"steps", "minutes"})
    if (vm.count(option))
      throw UsageError(fmt::format(
          "--tune {} is the budget of the whole sweep, shared by its candidates: leave out --{}",
          minutes, option));
  if (vm["stop-at"].as<int64_t>() != 0)
    throw UsageError(
        "--stop-at goes with one run, not --tune: stop a sweep with Ctrl-C and "
        "continue it with --resume");
  const bool resume = vm.count("resume") > 0, overwrite = vm.count("overwrite") > 0;
  if (resume && overwrite)
    throw UsageError("--resume and --overwrite contradict each other: choose one");
  try {
    validate(base);  // train_config_from_options leaves that to the checkpoint on --resume
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
  const std::vector<study::GridAxis> axes = study::tune_axes(base, fixed_options(vm));
  if (axes.empty())
    throw UsageError(
        "--tune varies the learning rate and dropout (and BERT's --mlm-weight on a classification "
        "task), and every one of them is given: leave one out to tune it");
  const std::vector<study::TuneCandidate> candidates = study::tune_candidates(base, axes, minutes);

  // Every directory is checked before the first candidate trains.
  std::vector<study::RunProgress> progress(candidates.size(), study::RunProgress::NotStarted);
  if (!resume && !overwrite) {
    std::vector<std::string> dirs = {base.out};
    for (const study::TuneCandidate& c : candidates) dirs.push_back(c.config.out);
    for (const std::string& dir : dirs)
      if (const char* file = run_files::held(dir))
        throw UsageError(fmt::format(
            "--out {}: {} already holds a run ({}); continue the tuning with --resume, replace it "
            "with --overwrite, or choose another --out",
            base.out, dir, file));
  }
  if (resume)
    for (size_t i = 0; i < candidates.size(); ++i)
      progress[i] = study::run_progress(as_planned(candidates[i]));
  // The lock on --out is held for the whole sweep: no other run writes there meanwhile.
  RunDirectory out(base.out, RunDirectory::Mode::Overwrite);

  std::string grid;
  for (const study::GridAxis& axis : axes)
    grid += fmt::format(" --{} {}", axis.option, fmt::join(axis.values, ","));
  fmt::print(
      "train --tune: {} candidates ({}) of {:.2g} minutes each, each judged by its best held-out "
      "evaluation; the best is kept in {}\n",
      candidates.size(), grid.substr(1), minutes / double(candidates.size()), base.out);
  std::vector<study::TunedRun> runs;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const study::TuneCandidate& c = candidates[i];
    fmt::print("\n== candidate {}/{}: {} -> {}\n", i + 1, candidates.size(), c.cell.options(),
               c.config.out);
    std::fflush(stdout);
    study::TunedRun run{c, {}, SelectMetric::Auto};
    if (progress[i] == study::RunProgress::Finished) {
      fmt::print("finished before: kept as it is\n");
      run.result = study::finished_result(as_planned(c));
    } else {
      TrainerOptions to;
      to.overwrite = overwrite;
      to.quiet = vm.count("quiet") > 0;
      run.result = study::continue_planned_run(as_planned(c), progress[i], resume, to);
      if (run.result.interrupted) {
        fmt::print(
            "train --tune: stopped by a signal in candidate {}; continue with the same command "
            "and --resume (the candidates are in {})\n",
            c.cell.options(), study::tune_directory(base.out));
        return 128 + run.result.stop_signal;
      }
    }
    run.metric = read_checkpoint_info(run_files::in(c.config.out, run_files::kCheckpoint))
                     .train.select_metric;
    fmt::print("candidate {}: best held-out {} {:.4g} at step {}\n", c.cell.options(),
               enum_name(kSelectMetricNames, run.metric), run.result.best_metric,
               run.result.best_step);
    runs.push_back(std::move(run));
  }

  const size_t best = study::best_tuned_run(runs);
  study::keep_tuned_run(runs[best], out);
  write_file_atomically(run_files::in(base.out, "tune.jsonl"), study::tune_jsonl(runs, best));
  fmt::print("\n{}\n", study::tune_table(runs, best).markdown());
  fmt::print(
      "kept {} as the run in {} (eval --ckpt {}); every candidate stays in {}, the table in "
      "{}/tune.jsonl.\nThe setting was chosen on the held-out split that also scores it, so that "
      "score is a little optimistic: judge the run on data it has not seen (eval --valid-file).\n",
      runs[best].candidate.cell.options(), base.out, base.out, study::tune_directory(base.out),
      base.out);
  return kExitOk;
}

}  // namespace attnlab::cli
