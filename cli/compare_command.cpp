// `attnlab compare`: every family that can do a task, trained on the same
// data under the same budget, then one table and one self-contained HTML
// report (curves, attention maps, the commands that reproduce it). The
// comparison itself is study/compare.h; this file reads the options.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/model_options.h"
#include "common/errors.h"
#include "study/compare.h"
#include "study/run_cost.h"
#include "train/run_dir.h"

namespace attnlab {

namespace po = cli::po;
namespace fs = std::filesystem;

namespace {

std::string quoted_command(int argc, char** argv) {
  std::string line = "attnlab compare";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    const bool plain = arg.find_first_of(" \t'\"$\\") == std::string::npos && !arg.empty();
    line += plain ? " " + arg : fmt::format(" '{}'", arg);
  }
  return line;
}

// compare's --out holds one run directory per family and the report: it
// must be a directory (or not exist yet), and not itself a train run, whose
// files the comparison's would sit beside.
void check_compare_out(const std::string& out) {
  if (out.empty()) throw cli::UsageError("--out: must name a directory");
  std::error_code ec;
  if (fs::exists(out, ec) && !fs::is_directory(out, ec))
    throw cli::UsageError(fmt::format("--out {}: exists and is not a directory", out));
  for (const char* file : {run_files::kCheckpoint, run_files::kMetrics})
    if (fs::exists(run_files::in(out, file), ec))
      throw cli::UsageError(fmt::format(
          "--out {}: is the run directory of one training run (it holds {}); compare writes a "
          "directory per family inside --out: choose another --out",
          out, file));
}

// One list-valued option: its values, each checked as the option's own
// value would be, none twice. "--lr 3e-4,1e-3" gives two.
std::vector<std::string> option_values(const po::variables_map& vm, const std::string& option) {
  const std::string text = vm[option].as<std::string>();
  std::vector<std::string> values;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    const auto refuse = [&](const std::string& why) {
      if (text.find(',') == std::string::npos)
        return cli::UsageError(fmt::format("--{} {}: {}", option, text, why));
      return cli::UsageError(fmt::format("--{} {}: '{}' {}", option, text, item, why));
    };
    size_t used = 0;
    double v = NAN;
    try {
      v = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || !std::isfinite(v)) throw refuse("is not a number");
    const bool whole = option != "lr" && option != "dropout";
    if (whole && (v != std::floor(v) || v > 1e12)) throw refuse("is not a whole number");
    if (option == "dropout" ? !(v >= 0 && v < 1) : !(v > 0))
      throw refuse(option == "dropout" ? "must be in [0, 1)" : "must be positive");
    if (std::find(values.begin(), values.end(), item) != values.end())
      throw refuse("is given twice");
    values.push_back(item);
  }
  if (values.empty() || text.back() == ',')
    throw cli::UsageError(fmt::format("--{} {}: expected a value or a comma list", option, text));
  return values;
}

// The setup the options describe, checked.
study::CompareSetup read_setup(const po::variables_map& vm, const std::string& models_text,
                               const std::string& match_text) {
  study::CompareSetup s;
  if (vm.count("task")) s.task = vm["task"].as<std::string>();
  if (vm.count("train-file")) s.train_file = vm["train-file"].as<std::string>();
  if (vm.count("valid-file")) s.valid_file = vm["valid-file"].as<std::string>();
  if (s.task.empty() == s.train_file.empty())
    throw cli::UsageError(
        "give a built-in --task, or your data with --train-file (and --task-kind), not both");
  if (!s.task.empty() && (vm.count("valid-file") || vm.count("task-kind")))
    throw cli::UsageError("--valid-file and --task-kind go with --train-file, not --task");
  s.out = vm["out"].as<std::string>();
  check_compare_out(s.out);
  // The list-valued options: one value sets it for every run, more make a
  // grid that every family runs cell by cell.
  std::map<std::string, std::vector<std::string>> given;
  for (const char* option : study::kGridOptions)
    if (vm.count(option)) {
      given[option] = option_values(vm, option);
      if (given[option].size() > 1) s.grid.push_back({option, given[option]});
    }
  const auto first = [&](const char* option) { return given.at(option).front(); };
  if (vm.count("steps") && vm.count("minutes"))
    throw cli::UsageError("give --steps or --minutes, not both");
  s.steps = vm.count("steps") ? std::stoll(first("steps")) : vm.count("minutes") ? 0 : 600;
  s.minutes = vm.count("minutes") ? vm["minutes"].as<double>() : 0;
  if (vm.count("minutes") && !(s.minutes > 0))
    throw cli::UsageError(fmt::format("--minutes {}: must be positive", s.minutes));
  s.seeds = vm["seeds"].as<int64_t>();
  if (s.seeds <= 0 || s.seeds > 100)
    throw cli::UsageError(fmt::format("--seeds {}: must be 1..100", s.seeds));
  s.first_seed = vm["seed"].as<uint64_t>();
  s.batch_size = vm.count("batch-size") ? std::stoll(first("batch-size")) : 64;
  s.lr = vm.count("lr") ? std::stod(first("lr")) : 1e-3;
  for (const study::GridAxis& axis : s.grid) {
    const std::string field = axis.option == "d-model"  ? "d_model"
                              : axis.option == "layers" ? "n_layers"
                                                        : "dropout";
    if (axis.option != "d-model" && axis.option != "layers" && axis.option != "dropout") continue;
    if (!cli::model_option_given(vm, field).empty() &&
        cli::model_option_given(vm, field).rfind("--set", 0) == 0)
      throw cli::UsageError(fmt::format("--{} {} and {} both set {}: give the values once",
                                        axis.option, vm[axis.option].as<std::string>(),
                                        cli::model_option_given(vm, field), field));
    if (axis.option == "layers" && vm.count("decoder-layers"))
      throw cli::UsageError(
          "--layers with more than one value sets both stacks of each cell: leave out "
          "--decoder-layers");
  }
  if (!s.grid.empty() && vm.count("finetune-on"))
    throw cli::UsageError(
        "--finetune-on goes with one setting, not a grid: compare the grid first, then fine-tune "
        "with each model's best setting");
  if (vm.count("warmup")) s.warmup = vm["warmup"].as<int64_t>();
  if (vm.count("eval-every")) s.eval_every = vm["eval-every"].as<int64_t>();
  s.tokenizer = vm["tokenizer"].as<std::string>();
  s.vocab_size = vm["vocab-size"].as<int64_t>();
  s.block_size = vm["block-size"].as<int64_t>();
  s.controlled = vm.count("controlled") > 0;
  try {
    s.match = enum_from_name(study::kMatchNames, match_text, "--match");
    if (!s.task.empty()) {
      s.info = data::task_info(s.task);
    } else {
      if (!vm.count("task-kind"))
        throw cli::UsageError(
            "--train-file: say what the data is with --task-kind classification, translation or "
            "lm (a plain text)");
      s.info.name = s.train_file;
      s.info.kind =
          enum_from_name(data::kTaskKindNames, vm["task-kind"].as<std::string>(), "--task-kind");
      s.info.description = fmt::format(
          "Your data: {}{}", s.train_file,
          s.valid_file.empty() ? ", its last tenth held out" : ", held out: " + s.valid_file);
    }
  } catch (const std::invalid_argument& e) {
    throw cli::UsageError(e.what());
  }
  if ((s.match == study::Match::Flops || s.match == study::Match::FlopsWidth) && s.minutes > 0)
    throw cli::UsageError(fmt::format(
        "--match {} gives every family the training FLOPs of the first in a number of steps: "
        "it goes with --steps, not --minutes (which gives every run the same time)",
        match_text));
  if (!vm["block-size"].defaulted() && s.info.kind != data::TaskKind::LanguageModel)
    throw cli::UsageError("--block-size sets the rows of a text: it goes with --task-kind lm");
  if (vm.count("finetune-on")) {
    study::FinetuneSetup ft;
    ft.train_file = vm["finetune-on"].as<std::string>();
    if (vm.count("finetune-valid")) ft.valid_file = vm["finetune-valid"].as<std::string>();
    try {
      ft.kind = enum_from_name(data::kTaskKindNames, vm["finetune-kind"].as<std::string>(),
                               "--finetune-kind");
    } catch (const std::invalid_argument& e) {
      throw cli::UsageError(e.what());
    }
    if (ft.kind == data::TaskKind::LanguageModel)
      throw cli::UsageError(
          "--finetune-kind lm: fine-tuning is on a task, classification or translation (a TSV)");
    ft.steps = vm.count("finetune-steps") ? vm["finetune-steps"].as<int64_t>() : s.steps;
    if (vm.count("finetune-steps") && ft.steps <= 0)
      throw cli::UsageError(fmt::format("--finetune-steps {}: must be positive", ft.steps));
    for (const std::string& file : {ft.train_file, ft.valid_file})
      if (!file.empty() && !fs::is_regular_file(file))
        throw cli::UsageError(fmt::format("{}: no such file (--finetune-{})", file,
                                          file == ft.train_file ? "on" : "valid"));
    s.finetune = ft;
  } else {
    for (const char* option : {"finetune-valid", "finetune-steps"})
      if (vm.count(option))
        throw cli::UsageError(fmt::format(
            "--{} goes with --finetune-on TSV, the task each model is fine-tuned on", option));
    if (!vm["finetune-kind"].defaulted())
      throw cli::UsageError(
          "--finetune-kind goes with --finetune-on TSV, the task each model is fine-tuned on");
  }
  s.families = {Family::BERT, Family::GPT, Family::T5, Family::Perceiver};
  if (vm.count("models")) {
    s.families.clear();
    for (const std::string& name : cli::parse_name_list(models_text)) {
      Family f;
      try {
        f = family_from_name(name);
      } catch (const std::invalid_argument& e) {
        throw cli::UsageError(fmt::format("--models: {}", e.what()));
      }
      if (std::find(s.families.begin(), s.families.end(), f) != s.families.end())
        throw cli::UsageError(
            fmt::format("--models {}: {} is named twice (for more runs of a family, use --seeds)",
                        models_text, name));
      s.families.push_back(f);
    }
  }
  std::set<std::string> grid_options;  // set per cell, not for all runs
  for (const study::GridAxis& axis : s.grid) grid_options.insert(axis.option);
  for (Family f : s.families) {
    auto& options = s.model_options[f];
    try {
      options = cli::model_overrides(vm, f, grid_options);
    } catch (const std::invalid_argument& e) {
      throw cli::UsageError(fmt::format("{} model: {}", family_name(f), e.what()));
    }
    // --layers alone sets both stacks of an encoder-decoder.
    if (vm.count("layers") && !grid_options.count("layers") && !vm.count("decoder-layers"))
      options["n_decoder_layers"] = options.at("n_layers");
  }
  return s;
}

}  // namespace

int compare_command(int argc, char** argv) {
  po::options_description options("compare options");
  std::string models_text, match_text = "width";
  options.add_options()                                                    //
      ("task", po::value<std::string>(), "built-in task (attnlab tasks)")  //
      ("train-file", po::value<std::string>(),
       "your data instead of --task: a TSV, as train reads it (with --task-kind)")  //
      ("valid-file", po::value<std::string>(),
       "held-out TSV (default: the last tenth of --train-file, as train holds out)")  //
      ("task-kind", po::value<std::string>(),
       "with --train-file: classification, translation, or lm: a plain text that each family "
       "learns with its own objective")  //
      ("block-size", po::value<int64_t>()->default_value(TrainConfig{}.block_size),
       "--task-kind lm: tokens of context per row")                                            //
      ("out", po::value<std::string>()->required(), "directory for the runs and report.html")  //
      ("steps", po::value<std::string>(),
       "training steps per run (default 600); a comma list makes a grid")  //
      ("minutes", po::value<double>(),
       "wall-clock budget per run instead of --steps; with a grid, of the whole sweep, shared "
       "equally by its runs")                                                                //
      ("models", po::value(&models_text), "comma list of families (default: all that can)")  //
      ("match", po::value(&match_text)->default_value(match_text),
       "width: the same d_model and depth for all; params: d_model adjusted so every model has "
       "about the parameters of the first; flops: the first model's training FLOPs for every "
       "model, by its steps; flops-width: the same, by its d_model at the same steps")  //
      ("controlled",
       "identical blocks for every family (pre-norm LayerNorm, GELU, biases, learned positions, "
       "tied head): only the attention routing differs")                                //
      ("seeds", po::value<int64_t>()->default_value(1), "runs per family, seeds 1..N")  //
      ("seed", po::value<uint64_t>()->default_value(1), "first seed")                   //
      ("batch-size", po::value<std::string>(),
       "examples per step (default 64); a comma list makes a grid")  //
      ("lr", po::value<std::string>(),
       "peak learning rate, AdamW with warmup and cosine decay (default 1e-3); a comma list, "
       "e.g. 3e-4,1e-3,3e-3, makes a grid")  //
      ("warmup", po::value<int64_t>(),
       "warmup steps (default: a fifth of --steps, at most 200)")  //
      ("eval-every", po::value<int64_t>(),
       "steps between held-out evaluations (default: 10 per run)")  //
      ("tokenizer", po::value<std::string>()->default_value("auto"),
       "auto, char, word, bpe or unigram")  //
      ("vocab-size", po::value<int64_t>()->default_value(kDefaultSubwordVocab),
       "--tokenizer bpe or unigram: the pieces it learns")  //
      ("finetune-on", po::value<std::string>(),
       "then fine-tune every model on this TSV, beside the same architecture from scratch, and "
       "report what pretraining bought each family")  //
      ("finetune-valid", po::value<std::string>(),
       "held-out TSV of the fine-tuning task (default: the last tenth of --finetune-on)")  //
      ("finetune-kind", po::value<std::string>()->default_value("classification"),
       "what --finetune-on holds: classification or translation")  //
      ("finetune-steps", po::value<int64_t>(),
       "steps of each fine-tuning run (default: as --steps)")  //
      ("overwrite", "replace runs already in --out")           //
      ("dry-run",
       "list every run with its parameters, training FLOPs and estimated time, then stop")  //
      ("resume",
       "continue a comparison that stopped: finished runs are kept, an interrupted one "
       "continues from its checkpoint, the rest train")                                  //
      ("threads", po::value<int>()->default_value(0), "OpenMP threads (0 = all cores)")  //
      ("quiet", "no training progress");
  cli::add_model_options(options);
  po::variables_map vm;
  if (!cli::parse_options("compare",
                          "Trains every family that can do a task on the same data and budget, "
                          "then writes a table and DIR/report.html.\n"
                          "Example: attnlab compare --task dates --steps 800 --out runs/cmp",
                          argc, argv, options, vm))
    return cli::kExitOk;
  cli::apply_threads(vm["threads"].as<int>());
  const study::CompareSetup setup = read_setup(vm, models_text, match_text);

  std::vector<std::pair<Family, std::string>> notes;
  std::vector<Family> running;
  for (Family f : setup.families) {
    const study::Eligibility e = study::eligibility(f, setup.info.kind);
    if (!e.note.empty()) notes.push_back({f, e.note});
    if (e.takes_part) running.push_back(f);
  }
  for (const auto& [f, note] : notes) fmt::print("{}: {}\n", family_name(f), note);
  if (running.empty())
    throw cli::UsageError(fmt::format("no family in --models can do the {} task '{}'",
                                      data::task_kind_name(setup.info.kind), setup.data_name()));

  TrainConfig first;
  std::vector<study::PlannedRun> plan;
  try {
    first = study::shared_config(setup);
    first.model = running.front();
  } catch (const std::invalid_argument& e) {
    throw cli::UsageError(e.what());
  }
  const PreparedData data = prepare_data(first);
  try {
    plan =
        study::plan_runs(setup, running, data.vocab->size(), int64_t(data.dataset.labels.size()));
  } catch (const std::invalid_argument& e) {
    throw cli::UsageError(e.what());
  }
  if (setup.match == study::Match::Flops || setup.match == study::Match::FlopsWidth)
    study::match_training_flops(plan, setup, data);
  if (setup.finetune) {
    const size_t before = notes.size();
    const std::vector<study::PlannedRun> tuning = study::plan_finetuning(setup, plan, notes);
    for (size_t i = before; i < notes.size(); ++i)
      fmt::print("{}: {}\n", family_name(notes[i].first), notes[i].second);
    plan.insert(plan.end(), tuning.begin(), tuning.end());
  }

  // A grid's runs are listed with what they will cost before any trains.
  if (!setup.grid.empty() || vm.count("dry-run")) {
    const std::vector<study::RunCost> costs = study::estimate_costs(plan, data);
    fmt::print("\n{}\n{}\n", study::cost_table(plan, costs).markdown(), study::cost_explanation());
    if (vm.count("dry-run")) {
      fmt::print("--dry-run: nothing trained\n");
      return cli::kExitOk;
    }
  }

  // Every run directory is checked before the first run trains: a comparison
  // must not stop halfway on a directory that was already there.
  const bool resume = vm.count("resume") > 0, overwrite = vm.count("overwrite") > 0;
  if (resume && overwrite)
    throw cli::UsageError("--resume and --overwrite contradict each other: choose one");
  std::vector<study::RunProgress> progress(plan.size(), study::RunProgress::NotStarted);
  for (size_t i = 0; i < plan.size(); ++i) {
    if (resume) {
      progress[i] = study::run_progress(plan[i]);
      continue;
    }
    if (overwrite) continue;
    if (const char* file = run_files::held(plan[i].config.out))
      throw cli::UsageError(fmt::format(
          "--out {}: {} already holds a run ({}); continue the comparison with --resume, "
          "replace the runs with --overwrite, or choose another --out",
          setup.out, plan[i].config.out, file));
  }

  std::string grid, fixed;  // the options that vary, and those every run shares
  for (const study::GridAxis& axis : setup.grid)
    grid += fmt::format(" --{} {}", axis.option, fmt::join(axis.values, ","));
  const auto varies = [&](const char* option) {
    return std::any_of(setup.grid.begin(), setup.grid.end(),
                       [&](const study::GridAxis& a) { return a.option == option; });
  };
  if (!varies("batch-size")) fixed += fmt::format(", batch {}", setup.batch_size);
  if (!varies("lr")) fixed += fmt::format(", lr {}", setup.lr);
  fmt::print("compare: {} runs on '{}' ({}){}, {}{}{}{} -> {}\n", plan.size(), setup.data_name(),
             data::task_kind_name(setup.info.kind), grid.empty() ? "" : ", a grid of" + grid,
             study::run_budget(setup), fixed, ", " + study::match_text(setup.match),
             setup.controlled ? ", controlled blocks" : "", setup.out);
  std::vector<study::RunRecord> runs;
  for (size_t i = 0; i < plan.size(); ++i) {
    fmt::print("\n== run {}/{}: {} (seed {}) -> {}\n", i + 1, plan.size(), plan[i].name,
               plan[i].seed, plan[i].config.out);
    std::fflush(stdout);
    study::RunRecord r;
    r.plan = plan[i];
    if (progress[i] == study::RunProgress::Finished) {
      fmt::print("finished before: kept as it is\n");
      r.result = study::finished_result(plan[i]);
      runs.push_back(std::move(r));
      continue;
    }
    TrainerOptions to;
    to.overwrite = overwrite;
    to.quiet = vm.count("quiet") > 0;
    to.show_predictions = 0;
    // The fine-tuning data is read only now, after the comparison trained:
    // a refusal there says which run, and that the compared runs are kept.
    const auto in_finetuning = [&](const char* what) {
      return InputError(fmt::format(
          "fine-tuning run {}: {}{}; the compared runs are kept: continue with --resume",
          plan[i].name, what,
          setup.info.kind == data::TaskKind::LanguageModel
              ? fmt::format(" (models pretrained on a text keep its rows of --block-size {} "
                            "positions: compare again with a larger one)",
                            setup.block_size)
              : ""));
    };
    try {
      r.result = study::continue_planned_run(plan[i], progress[i], resume, to);
    } catch (const InputError& e) {
      if (plan[i].stage == study::Stage::Compared) throw;
      throw in_finetuning(e.what());
    } catch (const std::invalid_argument& e) {
      if (plan[i].stage == study::Stage::Compared) throw;
      throw in_finetuning(e.what());
    }
    if (r.result.interrupted) {
      fmt::print(
          "compare: stopped by a signal in run {}; continue the comparison with the same command "
          "and --resume (the runs are in {})\n",
          plan[i].name, setup.out);
      return 128 + r.result.stop_signal;
    }
    runs.push_back(std::move(r));
  }
  std::vector<study::RunRecord> compared;
  for (study::RunRecord& r : runs)
    if (r.plan.stage == study::Stage::Compared) {
      study::analyse_run(r, setup.out, data.dataset.valid);
      compared.push_back(r);
    }

  const bool text = setup.info.kind == data::TaskKind::LanguageModel;
  if (!setup.grid.empty()) {
    fmt::print("\nThe grid:\n\n{}\n{}\n", study::grid_table(compared, text).markdown(),
               study::grid_explanation(compared, text));
    compared = study::runs_of_best_cells(compared);
    fmt::print("\nEach model at its best setting:\n");
  }
  fmt::print("\n{}\n{}\n", study::results_table(compared, setup.info.kind).markdown(),
             study::results_explanation(compared, setup.seeds, setup.info.kind));
  for (const study::RunRecord& r : compared)
    if (!r.sample.empty() && r.plan.seed == setup.first_seed)
      fmt::print("{} sample: {}\n", r.plan.label, study::one_line(r.sample));
  if (setup.finetune)
    fmt::print("\nFine-tuned on {} ({}):\n\n{}\n{}\n", setup.finetune->train_file,
               data::task_kind_name(setup.finetune->kind),
               study::finetune_table(runs, setup.finetune->kind).markdown(),
               study::finetune_explanation(setup));
  study::write_compare_files(setup, notes, runs, data.dataset.valid, quoted_command(argc, argv));
  fmt::print("wrote {0}/report.html, {0}/compare.md, {0}/results.jsonl, {0}/curves.svg\n",
             setup.out);
  return cli::kExitOk;
}

}  // namespace attnlab
