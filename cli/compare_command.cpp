// `attnlab compare`: every family that can do a task, trained on the same
// data under the same budget, then one table and one self-contained HTML
// report (curves, attention maps, the commands that reproduce it).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "cli/attention_picture.h"
#include "cli/commands.h"
#include "cli/loaded_run.h"
#include "cli/model_options.h"
#include "cli/table.h"
#include "common/json.h"
#include "data/tasks.h"
#include "models/stats.h"
#include "report/chart.h"
#include "report/curves.h"
#include "report/html.h"
#include "train/trainer.h"

namespace attnlab {

namespace po = cli::po;
namespace fs = std::filesystem;

namespace {

enum class Match { Width, Params };
constexpr EnumName<Match> kMatchNames[] = {{Match::Width, "width"}, {Match::Params, "params"}};

// Identical blocks for --controlled: only the attention routing differs.
const std::map<std::string, std::string> kControlledBlocks = {
    {"norm", "layernorm"},          {"placement", "pre"},     {"final_norm", "true"},
    {"embedding_norm", "false"},    {"activation", "gelu"},   {"bias", "true"},
    {"scale_scores", "true"},       {"positions", "learned"}, {"tie_embeddings", "true"},
    {"scale_tied_logits", "false"}, {"embedding_std", "0.02"}};

// The common size of every model: the generic defaults, then the options.
const std::map<std::string, std::string> kCommonSize = {
    {"d_model", "128"}, {"n_heads", "4"},  {"d_ff", "256"},      {"n_layers", "2"},
    {"dropout", "0.0"}, {"max_len", "96"}, {"num_latents", "16"}};

struct PlannedRun {
  Family family;
  uint64_t seed;
  std::string name;  // run directory under --out
  TrainConfig config;
};

struct FinishedRun {
  PlannedRun plan;
  TrainResult result;
  ModelConfig model;
  report::RunCurves curves;
  double mean_row_tokens = 0;    // held-out rows as the model reads them
  double tokens_per_s = 0;       // median of the logged training throughput
  double train_loss = 0;         // mean of the last logged training losses
  int64_t steps_to_90 = -1;      // first evaluation at >= 90% of the final score
  double infer_ms = 0;           // per held-out example, batched
  std::string attention_svg;     // file name under --out
  std::string attention_markup;  // the picture, for the report
  std::string attention_map;     // which map it shows
};

// How a family does the task, or why it cannot (empty: natively).
std::string adaptation(Family f, data::TaskKind kind, bool* left_out) {
  *left_out = false;
  const bool classifier = f == Family::BERT || f == Family::Perceiver;
  if (kind == data::TaskKind::Translation && classifier) {
    *left_out = true;
    return fmt::format(
        "left out: a {} model is an encoder with a classification head and no decoder, so it "
        "cannot write an output sequence",
        family_name(f));
  }
  if (kind == data::TaskKind::Classification && f == Family::GPT)
    return "adapted: reads the text, then writes the label's tokens after a separator (prefix "
           "LM); the label with the highest log-probability wins";
  if (kind == data::TaskKind::Classification && f == Family::T5)
    return "adapted: text-to-text, the decoder writes the label's tokens; the label with the "
           "highest log-probability wins";
  return "";
}

// The d_model (a multiple of the head count, d_ff keeping its ratio) whose
// parameter count is closest to `target`.
ModelConfig match_parameters(ModelConfig c, int64_t target) {
  const double ff_ratio = double(c.d_ff) / double(c.d_model);
  ModelConfig best = c;
  int64_t best_gap = -1;
  for (int64_t d = c.n_heads; d <= 2048; d += c.n_heads) {
    ModelConfig m = c;
    m.d_model = d;
    m.d_ff = std::max<int64_t>(1, std::llround(ff_ratio * double(d)));
    const int64_t gap = std::llabs(model_stats(m, 1).parameters.total() - target);
    if (best_gap < 0 || gap < best_gap) best = m, best_gap = gap;
  }
  return best;
}

std::string mean_spread(const std::vector<double>& xs, const char* format) {
  if (xs.empty()) return "-";
  double mean = 0;
  for (double x : xs) mean += x / double(xs.size());
  if (xs.size() == 1) return fmt::format(fmt::runtime(format), mean);
  double var = 0;
  for (double x : xs) var += (x - mean) * (x - mean) / double(xs.size() - 1);
  return fmt::format(fmt::runtime(format), mean) + " ± " +
         fmt::format(fmt::runtime(format), std::sqrt(var));
}

double median(std::vector<double> xs) {
  if (xs.empty()) return 0;
  std::sort(xs.begin(), xs.end());
  return xs[xs.size() / 2];
}

// The equivalent `attnlab train` command of one run.
std::string train_command_line(const PlannedRun& run, const fs::path& out) {
  const TrainConfig& c = run.config;
  std::string line = fmt::format(
      "attnlab train --model {} --task {} --steps {} --batch-size {} --lr {} --warmup {} "
      "--eval-every {} --seed {} --tokenizer {}",
      family_name(c.model), c.task, c.steps, c.batch_size, c.lr, c.warmup, c.eval_every, c.seed,
      train_config_fields().to_map(c).at("tokenizer"));
  if (c.minutes > 0) line += fmt::format(" --minutes {}", c.minutes);
  for (const auto& [key, value] : c.model_overrides)
    line += fmt::format(" --set {}={}", key, value);
  return line + fmt::format(" --out {}", (out / run.name).string());
}

// The held-out example every model's attention is shown on: the first one at
// least as long as the median, so the pictures have something to show.
size_t traced_example(const std::vector<data::Example>& held_out) {
  std::vector<size_t> lengths;
  for (const auto& e : held_out) lengths.push_back(e.source.size());
  if (lengths.empty()) return 0;
  std::vector<size_t> sorted = lengths;
  std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
  const size_t median = sorted[sorted.size() / 2];
  for (size_t i = 0; i < lengths.size(); ++i)
    if (lengths[i] >= median) return i;
  return 0;
}

// Loads the run's best model: inference time, mean row length, one attention map.
void analyse(FinishedRun& r, const fs::path& out, const std::vector<data::Example>& held_out) {
  const fs::path dir = out / r.plan.name;
  r.curves = report::read_curves(run_files::in(dir.string(), run_files::kMetrics));
  std::vector<double> throughput, losses;
  for (const auto& p : r.curves.tokens_per_s) throughput.push_back(p.value);
  r.tokens_per_s = median(throughput);
  const size_t n_loss = r.curves.train_loss.size(), tail = std::max<size_t>(1, n_loss / 10);
  for (size_t i = n_loss - std::min(n_loss, tail); i < n_loss; ++i)
    r.train_loss += r.curves.train_loss[i].value / double(std::min(n_loss, tail));
  const double final_score = r.result.final_metrics.headline();
  for (const auto& p : r.curves.valid_score)
    if (final_score > 0 && p.value >= 0.9 * final_score) {
      r.steps_to_90 = int64_t(p.step);
      break;
    }

  LoadedRun run = load_run(dir.string());
  r.model = run.model->config();
  std::vector<data::Example> sample(held_out.begin(),
                                    held_out.begin() + std::min<size_t>(held_out.size(), 1000));
  double tokens = 0;
  for (const auto& e : run.framing->encode(sample))
    tokens += double(run.framing->input_positions(e));
  r.mean_row_tokens = sample.empty() ? 0 : tokens / double(sample.size());

  std::vector<std::string> texts;
  for (size_t i = 0; i < std::min<size_t>(held_out.size(), 256); ++i)
    texts.push_back(held_out[i].source);
  run.framing->predict({texts.begin(), texts.begin() + std::min<size_t>(texts.size(), 8)});
  const auto start = std::chrono::steady_clock::now();
  run.framing->predict(texts, 64);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  r.infer_ms = texts.empty() ? 0 : ms / double(texts.size());

  if (held_out.empty()) return;
  const Trace trace = run.framing->trace(held_out[traced_example(held_out)].source);
  const TraceMap* shown = nullptr;  // the last cross map, else the last self map
  for (const TraceMap& m : trace.maps)
    if (m.kind == "cross" || m.kind == "latent cross") shown = &m;
  if (!shown && !trace.maps.empty()) shown = &trace.maps.back();
  if (!shown) return;
  r.attention_map = shown->name;
  r.attention_svg = "attention-" + r.plan.name + ".svg";
  attention_picture(trace, *shown).save((out / r.attention_svg).string());  // every head
  r.attention_markup = attention_picture(trace, *shown, true).str();
}

std::string quoted_command(int argc, char** argv) {
  std::string line = "attnlab compare";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    const bool plain = arg.find_first_of(" \t'\"$\\") == std::string::npos && !arg.empty();
    line += " " + (plain ? arg : "'" + arg + "'");
  }
  return line;
}

}  // namespace

int compare_command(int argc, char** argv) {
  po::options_description options("compare options");
  std::string task, out, models_text, match_text = "width", tokenizer = "auto";
  int64_t steps = 0, seeds = 1, batch = 64, eval_every = 0, warmup = -1;
  double minutes = 0, lr = 1e-3;
  uint64_t seed = 1;
  options.add_options()                                                                      //
      ("task", po::value(&task)->required(), "built-in task (attnlab tasks)")                //
      ("out", po::value(&out)->required(), "directory for the runs and report.html")         //
      ("steps", po::value(&steps), "training steps per run (default 600)")                   //
      ("minutes", po::value(&minutes), "wall-clock budget per run instead of --steps")       //
      ("models", po::value(&models_text), "comma list of families (default: all that can)")  //
      ("match", po::value(&match_text)->default_value(match_text),
       "width: the same d_model and depth for all; params: d_model adjusted so every model has "
       "about the parameters of the first")  //
      ("controlled",
       "identical blocks for every family (pre-norm LayerNorm, GELU, biases, learned positions, "
       "tied head): only the attention routing differs")                                         //
      ("seeds", po::value(&seeds)->default_value(1), "runs per family, seeds 1..N")              //
      ("seed", po::value(&seed)->default_value(1), "first seed")                                 //
      ("batch-size", po::value(&batch)->default_value(batch), "examples per step")               //
      ("lr", po::value(&lr)->default_value(lr), "peak learning rate (AdamW, warmup-cosine)")     //
      ("warmup", po::value(&warmup), "warmup steps (default: a fifth of --steps, at most 200)")  //
      ("eval-every", po::value(&eval_every),
       "steps between held-out evaluations (default: 10 per run)")                          //
      ("tokenizer", po::value(&tokenizer)->default_value(tokenizer), "auto, char or word")  //
      ("overwrite", "replace runs already in --out")                                        //
      ("threads", po::value<int>()->default_value(0), "OpenMP threads (0 = all cores)")     //
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
  if (vm.count("steps") && vm.count("minutes"))
    throw cli::UsageError("give --steps or --minutes, not both");
  if (!vm.count("steps") && !vm.count("minutes")) steps = 600;
  if (vm.count("steps") && steps <= 0)
    throw cli::UsageError(fmt::format("--steps {}: must be positive", steps));
  if (vm.count("minutes") && !(minutes > 0))
    throw cli::UsageError(fmt::format("--minutes {}: must be positive", minutes));
  if (seeds <= 0 || seeds > 100)
    throw cli::UsageError(fmt::format("--seeds {}: must be 1..100", seeds));
  Match match;
  data::TaskInfo info;
  try {
    match = enum_from_name(kMatchNames, match_text, "--match");
    info = data::task_info(task);
  } catch (const std::invalid_argument& e) {
    throw cli::UsageError(e.what());
  }

  if (info.kind == data::TaskKind::LanguageModel)
    throw cli::UsageError(fmt::format(
        "'{}' is a language-modelling text: only a decoder-only model (gpt) learns it, so there "
        "is nothing to compare; train it with attnlab train --model gpt --task {}",
        task, task));
  std::vector<Family> families = {Family::BERT, Family::GPT, Family::T5, Family::Perceiver};
  if (vm.count("models")) {
    families.clear();
    for (const std::string& name : cli::parse_name_list(models_text)) {
      try {
        families.push_back(family_from_name(name));
      } catch (const std::invalid_argument& e) {
        throw cli::UsageError(fmt::format("--models: {}", e.what()));
      }
    }
  }
  std::vector<std::pair<Family, std::string>> notes;
  std::vector<Family> running;
  for (Family f : families) {
    bool left_out = false;
    const std::string note = adaptation(f, info.kind, &left_out);
    if (!note.empty()) notes.push_back({f, note});
    if (!left_out) running.push_back(f);
  }
  for (const auto& [f, note] : notes) fmt::print("{}: {}\n", family_name(f), note);
  if (running.empty())
    throw cli::UsageError(fmt::format("no family in --models can do the {} task '{}'",
                                      data::task_kind_name(info.kind), task));

  // One training setup for all; each family keeps its preset's defining
  // choices unless --controlled.
  TrainConfig base;
  base.task = task;
  base.steps = steps > 0 ? steps : 1000000;
  base.minutes = minutes;
  base.batch_size = batch;
  base.lr = lr;
  base.warmup = warmup >= 0 ? warmup : steps > 0 ? std::min<int64_t>(200, steps / 5) : 200;
  base.eval_every = eval_every > 0 ? eval_every
                    : steps > 0    ? std::max<int64_t>(1, steps / 10)
                                   : 100;
  base.log_every = std::max<int64_t>(1, std::min<int64_t>(base.eval_every / 4, 50));
  base.save_every = 0;
  try {
    train_config_fields().set(base, "tokenizer", tokenizer);
  } catch (const std::invalid_argument& e) {
    throw cli::UsageError(e.what());
  }
  PreparedData data = prepare_data([&] {
    TrainConfig c = base;
    c.model = running.front();
    return c;
  }());
  const int64_t vocab = data.vocab->size(), classes = int64_t(data.dataset.labels.size());

  std::vector<PlannedRun> plan;
  int64_t target_params = 0;
  for (Family f : running) {
    TrainConfig c = base;
    c.model = f;
    c.model_overrides = kCommonSize;
    c.model_overrides["n_decoder_layers"] = c.model_overrides["n_layers"];
    try {
      for (const auto& [key, value] : cli::model_overrides(vm, f)) c.model_overrides[key] = value;
      if (vm.count("layers") && !vm.count("decoder-layers"))
        c.model_overrides["n_decoder_layers"] = c.model_overrides["n_layers"];
      if (vm.count("controlled"))
        for (const auto& [key, value] : kControlledBlocks) c.model_overrides[key] = value;
      ModelConfig m = model_config_for(c, vocab, classes);
      if (match == Match::Params) {
        if (target_params == 0) target_params = model_stats(m, 1).parameters.total();
        m = match_parameters(m, target_params);
        c.model_overrides["d_model"] = std::to_string(m.d_model);
        c.model_overrides["d_ff"] = std::to_string(m.d_ff);
      }
      validate(c);
      model_config_for(c, vocab, classes);
    } catch (const std::invalid_argument& e) {
      throw cli::UsageError(fmt::format("{} model: {}", family_name(f), e.what()));
    }
    for (int64_t k = 0; k < seeds; ++k) {
      PlannedRun r{f, seed + uint64_t(k), family_name(f), c};
      r.config.seed = r.seed;
      if (seeds > 1) r.name += fmt::format("-seed{}", r.seed);
      r.config.out = (fs::path(out) / r.name).string();
      plan.push_back(r);
    }
  }

  fmt::print("compare: {} runs on '{}' ({}), {} each, batch {}, lr {}{}{} -> {}\n", plan.size(),
             task, data::task_kind_name(info.kind),
             steps > 0 ? fmt::format("{} steps", steps) : fmt::format("{} minutes", minutes), batch,
             lr, match == Match::Params ? ", parameters matched" : ", same width and depth",
             vm.count("controlled") ? ", controlled blocks" : "", out);
  std::vector<FinishedRun> finished;
  for (size_t i = 0; i < plan.size(); ++i) {
    fmt::print("\n== run {}/{}: {} (seed {}) -> {}\n", i + 1, plan.size(), plan[i].name,
               plan[i].seed, plan[i].config.out);
    std::fflush(stdout);
    TrainerOptions to;
    to.overwrite = vm.count("overwrite") > 0;
    to.quiet = vm.count("quiet") > 0;
    to.show_predictions = 0;
    Trainer trainer(plan[i].config, to);
    FinishedRun r;
    r.plan = plan[i];
    r.result = trainer.run();
    if (r.result.interrupted) {
      fmt::print("compare: stopped by a signal after run {}; the finished runs are in {}\n",
                 plan[i].name, out);
      return 128 + r.result.stop_signal;
    }
    finished.push_back(std::move(r));
  }
  for (FinishedRun& r : finished) analyse(r, out, data.dataset.valid);

  // ---- the table: one row per family, mean ± spread over seeds ----------------
  const bool classification = info.kind == data::TaskKind::Classification;
  const std::string score = classification ? "accuracy" : "exact match";
  const std::string second = classification ? "macro-F1" : "token accuracy";
  cli::Table table{{"model", "params", "train FLOPs / token", "wall s", "tokens/s", "train loss",
                    "held-out " + score + " %", second + " %", "steps to 90%",
                    "inference ms / example"}};
  for (Family f : running) {
    std::vector<const FinishedRun*> rs;
    for (const FinishedRun& r : finished)
      if (r.plan.family == f) rs.push_back(&r);
    auto collect = [&](auto value) {
      std::vector<double> xs;
      for (const FinishedRun* r : rs)
        if (double v = value(*r); std::isfinite(v)) xs.push_back(v);
      return xs;
    };
    const FinishedRun& first = *rs.front();
    const ModelStats stats =
        model_stats(first.model, std::max<int64_t>(1, std::llround(first.mean_row_tokens)));
    table.rows.push_back(
        {family_name(f), cli::with_commas(stats.parameters.total()),
         cli::si_number(stats.training_flops()),
         mean_spread(collect([](const FinishedRun& r) { return r.result.seconds; }), "{:.1f}"),
         mean_spread(collect([](const FinishedRun& r) { return r.tokens_per_s; }), "{:.0f}"),
         mean_spread(collect([](const FinishedRun& r) { return r.train_loss; }), "{:.3f}"),
         mean_spread(
             collect([](const FinishedRun& r) { return 100 * r.result.final_metrics.headline(); }),
             "{:.1f}"),
         mean_spread(collect([&](const FinishedRun& r) {
                       return 100 * (classification ? r.result.final_metrics.macro_f1
                                                    : r.result.final_metrics.token_accuracy);
                     }),
                     "{:.1f}"),
         mean_spread(collect([](const FinishedRun& r) {
                       return r.steps_to_90 >= 0 ? double(r.steps_to_90) : NAN;
                     }),
                     "{:.0f}"),
         mean_spread(collect([](const FinishedRun& r) { return r.infer_ms; }), "{:.2f}")});
  }
  const std::string table_text = table.markdown();
  std::string explain = fmt::format(
      "Held-out scores are of the final model on {} held-out examples; train loss is the mean of "
      "the last tenth of the logged losses, each family's own objective (per example for "
      "classifier "
      "heads, per target token for GPT and T5); train FLOPs per token at the mean held-out row "
      "length; tokens/s is the median logged training throughput; inference is greedy decoding "
      "or classification of 256 held-out examples in batches of 64.{}",
      finished.front().result.final_metrics.examples,
      seeds > 1 ? fmt::format(" Values are mean ± standard deviation over {} seeds.", seeds) : "");
  fmt::print("\n{}\n{}\n", table_text, explain);

  // ---- files --------------------------------------------------------------------
  const std::string command = quoted_command(argc, argv);
  {
    const fs::path path = fs::path(out) / "compare.md";
    std::ofstream md(path);
    md << "# " << command << "\n\n" << table_text << "\n" << explain << "\n";
    for (const auto& [f, note] : notes) md << "\n- " << family_name(f) << ": " << note << "\n";
    md.close();
    if (!md) throw std::runtime_error(fmt::format("cannot write {}", path.string()));
  }
  {
    const fs::path path = fs::path(out) / "results.jsonl";
    std::ofstream jl(path);
    for (const FinishedRun& r : finished)
      jl << json_line(Json{{"model", family_name(r.plan.family)},
                           {"seed", r.plan.seed},
                           {"dir", r.plan.name},
                           {"d_model", r.model.d_model},
                           {"parameters", model_stats(r.model, 1).parameters.total()},
                           {"steps", r.result.steps},
                           {"seconds", r.result.seconds},
                           {"tokens_per_s", r.tokens_per_s},
                           {"train_loss", r.train_loss},
                           {"score", r.result.final_metrics.headline()},
                           {"macro_f1", r.result.final_metrics.macro_f1},
                           {"token_accuracy", r.result.final_metrics.token_accuracy},
                           {"steps_to_90", r.steps_to_90},
                           {"inference_ms_per_example", r.infer_ms}})
         << "\n";
    jl.close();
    if (!jl) throw std::runtime_error(fmt::format("cannot write {}", path.string()));
  }

  report::Panel loss{"training loss", "step", "loss", {}};
  report::Panel held{"held-out " + score, "step", score + " %", {}};
  for (size_t i = 0; i < finished.size(); ++i) {
    const FinishedRun& r = finished[i];
    const size_t colour =
        size_t(std::find(running.begin(), running.end(), r.plan.family) - running.begin());
    // One colour and one legend entry per family; its seeds share them.
    report::Series s{family_name(r.plan.family), {}, colour, false};
    for (const auto& p : r.curves.train_loss) s.points.push_back({p.step, p.value});
    loss.series.push_back(s);
    s.points.clear();
    s.markers = true;
    for (const auto& p : r.curves.valid_score) s.points.push_back({p.step, 100 * p.value});
    held.series.push_back(s);
  }
  const report::Svg curves = report::line_charts({loss, held}, 480, 320);
  curves.save((fs::path(out) / "curves.svg").string());

  report::HtmlPage page(
      fmt::format("attnlab compare: {} ({})", task, data::task_kind_name(info.kind)));
  page.paragraph(fmt::format(
      "{}. {} runs, {}; every family {}{}.", info.description, plan.size(),
      steps > 0 ? fmt::format("{} steps each", steps) : fmt::format("{} minutes each", minutes),
      match == Match::Params ? "with about the same number of parameters"
                             : "with the same width and depth",
      vm.count("controlled") ? ", built from identical blocks" : ""));
  page.heading(2, "Results");
  page.table(table.header, table.rows);
  page.paragraph(explain);
  for (const auto& [f, note] : notes) page.paragraph(fmt::format("{}: {}", family_name(f), note));
  page.heading(2, "Training curves");
  page.figure(curves.str(), std::string("Training loss and held-out score against steps, every "
                                        "run on one chart") +
                                (seeds > 1 ? "; a family's seeds share its colour." : "."));
  page.heading(2, "Where each model looks");
  const data::Example traced = data.dataset.valid.empty()
                                   ? data::Example{}
                                   : data.dataset.valid[traced_example(data.dataset.valid)];
  if (!data.dataset.valid.empty())
    page.paragraph(
        fmt::format("One held-out example through each model's best checkpoint: \"{}\" "
                    "(expected \"{}\"). Rows are queries, columns keys.",
                    traced.source, traced.target));
  for (const FinishedRun& r : finished) {
    if (r.attention_svg.empty() || (seeds > 1 && r.plan.seed != seed)) continue;
    page.figure(r.attention_markup, fmt::format("{}: {}, averaged over heads (every head: {})",
                                                r.plan.name, r.attention_map, r.attention_svg));
  }
  page.heading(2, "Reproduce");
  page.paragraph("The whole comparison:");
  page.code_block(command);
  page.paragraph("Each run on its own:");
  std::string lines;
  for (const FinishedRun& r : finished) lines += train_command_line(r.plan, out) + "\n";
  page.code_block(lines);
  page.save((fs::path(out) / "report.html").string());
  fmt::print("wrote {0}/report.html, {0}/compare.md, {0}/results.jsonl, {0}/curves.svg\n", out);
  return cli::kExitOk;
}

}  // namespace attnlab
