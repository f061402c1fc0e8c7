// `attnlab train | eval | predict | tasks`: option parsing (command line and
// INI config files) on top of Trainer, the framings and the checkpoint reader.
#include "cli/commands.h"

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <iostream>

#include "cli/cli_common.h"
#include "cli/model_options.h"
#include "cli/search_options.h"
#include "cli/train_options.h"
#include "cli/tune_command.h"
#include "common/errors.h"
#include "data/tasks.h"
#include "data/text_file.h"
#include "data/tsv.h"
#include "models/stats.h"
#include "study/loaded_run.h"
#include "train/baseline.h"
#include "train/kneser_ney.h"
#include "train/memory_limit.h"
#include "train/metrics_log.h"
#include "train/trainer.h"

namespace attnlab {

namespace po = cli::po;

int train_command(int argc, char** argv) {
  po::options_description options = cli::train_options();
  po::variables_map vm;
  if (!cli::parse_options("train",
                          "Trains a BERT-, GPT-, T5- or Perceiver-style model on a built-in task "
                          "or your TSV data.\n"
                          "Example: attnlab train --model t5 --task dates",
                          argc, argv, options, vm))
    return cli::kExitOk;
  cli::merge_config_file(options, vm);
  cli::apply_threads(vm["threads"].as<int>());
  const TrainConfig config = cli::train_config_from_options(vm);
  if (vm.count("tune")) return cli::tune_command(vm, config);
  TrainerOptions to;
  to.resume = vm.count("resume") > 0;
  to.overwrite = vm.count("overwrite") > 0;
  if (to.resume && to.overwrite)
    throw cli::UsageError("--resume and --overwrite contradict each other: choose one");
  cli::check_resume_options(vm, config);

  if (vm.count("steps") && vm.count("minutes"))
    throw cli::UsageError("give --steps or --minutes, not both (--minutes fits the step count)");
  if (to.resume && vm.count("steps")) to.resume_steps = config.steps;
  if (to.resume && vm.count("minutes")) to.resume_minutes = config.minutes;
  to.stop_at = vm["stop-at"].as<int64_t>();
  to.quiet = vm.count("quiet") > 0;
  Trainer trainer(config, to);
  TrainResult r = trainer.run();
  // Stopped by a signal (after saving): the shell's convention, 128 + its number.
  return r.interrupted ? 128 + r.stop_signal : cli::kExitOk;
}

namespace {

enum class OutputFormat { Text, Jsonl };
constexpr EnumName<OutputFormat> kOutputFormatNames[] = {{OutputFormat::Text, "text"},
                                                         {OutputFormat::Jsonl, "jsonl"}};

OutputFormat output_format(const std::string& text) {
  try {
    return enum_from_name(kOutputFormatNames, text, "--format");
  } catch (const std::invalid_argument& e) {
    throw cli::UsageError(e.what());
  }
}

const char* kFormatHelp =
    "text: rounded, for people; jsonl: one JSON object per line with full-precision numbers, for "
    "other tools";

// One predict result as a JSON object (see docs/checkpoint.md); `max_new`
// is predict's --max-new.
std::string prediction_json(const std::string& input, const Prediction& p, const data::Vocab& vocab,
                            const std::vector<std::string>& labels, int64_t max_new) {
  Json j = {{"input", input}, {"output", p.text}, {"probability", p.probability}};
  if (!p.label_probabilities.empty()) {
    Json& distribution = j["label_probabilities"] = Json::object();
    for (size_t k = 0; k < labels.size(); ++k) distribution[labels[k]] = p.label_probabilities[k];
    return json_line(j);
  }
  // Generated: one log-probability per output token, then EOS's if the
  // search chose it. Without one, it stopped at --max-new tokens, or earlier
  // where the model's max_len left no room.
  const bool chose_eos = p.token_log_probs.size() > p.tokens.size();
  Json tokens = Json::array();
  for (int32_t id : p.tokens) tokens.push_back(vocab.token_of(id));
  j["token_ids"] = p.tokens;
  j["tokens"] = std::move(tokens);
  j["token_log_probs"] = std::vector<double>(p.token_log_probs.begin(),
                                             p.token_log_probs.begin() + int64_t(p.tokens.size()));
  j["eos_log_prob"] = chose_eos ? Json(p.token_log_probs.back()) : Json(nullptr);
  j["stopped_by"] = chose_eos ? "eos" : int64_t(p.tokens.size()) >= max_new ? "max_new" : "max_len";
  return json_line(j);
}

// Beam search and sampling choose translation outputs; a classifier has none.
void apply_search(LoadedRun& run, const GenerateOptions& search) {
  const bool default_search = search.beam == 1 && search.temperature == 0;
  if (!default_search && run.info.task_kind == data::TaskKind::Classification)
    throw cli::UsageError(
        fmt::format("{} classifies: --beam and --temperature choose the output sequence of a "
                    "translation model",
                    run.file));
  if (!default_search && run.info.task_kind == data::TaskKind::LanguageModel)
    throw cli::UsageError(fmt::format(
        "{} is a language model: its held-out loss does not depend on a search; generate takes "
        "--beam and --temperature",
        run.file));
  run.framing->set_search(search);
}

}  // namespace

int eval_command(int argc, char** argv) {
  po::options_description options("eval options");
  std::string ckpt, valid_file;
  std::string format;
  int64_t examples = 0, batch = 128;
  int threads = 0;
  options.add_options()  //
      ("ckpt", po::value(&ckpt)->required(),
       "checkpoint file, or a run directory (its best.h5, else checkpoint.h5)")  //
      ("format", po::value(&format)->default_value("text"), kFormatHelp)         //
      ("valid-file", po::value(&valid_file),
       "evaluate on this TSV instead of the run's held-out split")  //
      ("examples", po::value(&examples)->default_value(0),
       "evaluate on the first N examples (0 = all)")                               //
      ("batch-size", po::value(&batch)->default_value(128), "examples per batch")  //
      ("threads", po::value(&threads)->default_value(0), "OpenMP threads (0 = all cores)");
  cli::add_search_options(options, false);
  po::variables_map vm;
  if (!cli::parse_options("eval",
                          "Reports held-out metrics of a checkpoint (exact match with greedy "
                          "decoding, or with --beam N).",
                          argc, argv, options, vm))
    return cli::kExitOk;
  cli::apply_threads(threads);
  if (examples < 0 || batch <= 0)
    throw cli::UsageError("--examples must be >= 0 and --batch-size > 0");
  const OutputFormat out_format = output_format(format);
  const GenerateOptions search = cli::search_options(vm, false);
  LoadedRun run = load_run(ckpt);
  apply_search(run, search);
  const HeldOut held = held_out_of(run, valid_file);
  const std::vector<data::Example>& held_out = held.examples;
  const std::vector<std::string>& origins = held.origins;
  const std::string& source = held.source;
  run.framing->check_lengths(held_out, "held-out", origins);
  auto encoded = run.framing->encode(held_out);
  EvalMetrics m = run.framing->evaluate(encoded, size_t(batch), size_t(examples));
  if (out_format == OutputFormat::Jsonl) {
    Json j = {{"checkpoint", run.file},
              {"model", family_name(run.info.train.model)},
              {"step", run.info.state.step},
              {"data", source},
              {"examples", m.examples},
              {"beam", search.beam},
              {"loss", m.loss}};
    add_metric_fields(j, m);
    const std::string line = json_line(j);
    fmt::print("{}\n", line);
    return cli::kExitOk;
  }
  const std::string scored = m.language_model ? fmt::format("{} blocks of {} tokens", m.examples,
                                                            run.model->config().max_len)
                                              : fmt::format("{} examples", m.examples);
  fmt::print("{} ({} {}) on {} ({}{}):\n  {}\n", run.file, family_name(run.info.train.model),
             which_model(run.file, run.info), source, scored,
             search.beam > 1 ? fmt::format(", beam {}", search.beam) : "", m.summary());
  return cli::kExitOk;
}

namespace {

// Inputs are sentences: a line of a megabyte is a wrong file, not a sentence.
constexpr int64_t kMaxLineBytes = int64_t(1) << 20;
// Standard input is predicted this many lines at a time, so that memory stays
// bounded however much comes (at most this many lines of kMaxLineBytes).
constexpr size_t kLinesPerChunk = 256;

// The next inputs from `in`, one per line, CRLF or LF, at most `count`
// (none at the end of the input). An empty line is an (empty) input, so that
// the output keeps one row per input line. `lines_before` counts the lines
// already read, for naming a line over kMaxLineBytes.
std::vector<std::string> read_input_lines(std::istream& in, size_t count, size_t lines_before) {
  std::vector<std::string> lines;
  std::string line;
  bool open_line = false;
  for (int ch; lines.size() < count && (ch = in.get()) != EOF;) {
    open_line = true;
    if (ch != '\n') {
      line.push_back(char(ch));
      if (int64_t(line.size()) > kMaxLineBytes)
        throw cli::UsageError(fmt::format("stdin line {}: longer than {} bytes",
                                          lines_before + lines.size() + 1, kMaxLineBytes));
      continue;
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    line.clear();
    open_line = false;
  }
  if (open_line && !line.empty()) {  // a last line without its newline
    if (line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace

int predict_command(int argc, char** argv) {
  po::options_description options("predict options");
  std::string ckpt, format;
  int threads = 0;
  options.add_options()  //
      ("ckpt", po::value(&ckpt)->required(),
       "checkpoint file, or a run directory (its best.h5, else checkpoint.h5)")  //
      ("format", po::value(&format)->default_value("text"), kFormatHelp)         //
      ("text", po::value<std::vector<std::string>>(),
       "input texts (positional); none: one per line from stdin")  //
      ("max-new", po::value<int64_t>()->default_value(int64_t(Framing::kDefaultMaxNew)),
       "translations: tokens to generate at most (EOS included; the model's max_len bounds it "
       "too)")  //
      ("threads", po::value(&threads)->default_value(0), "OpenMP threads (0 = all cores)");
  cli::add_search_options(options, true);
  po::positional_options_description positional;
  positional.add("text", -1);
  po::variables_map vm;
  if (!cli::parse_options("predict",
                          "Translates (greedy decoding) or classifies texts with a checkpoint.\n"
                          "Prints input<TAB>output<TAB>probability per line (--format text), or\n"
                          "one JSON object per input (--format jsonl).",
                          argc, argv, options, vm, &positional))
    return cli::kExitOk;
  cli::apply_threads(threads);
  const OutputFormat out_format = output_format(format);
  const GenerateOptions search = cli::search_options(vm, true);
  LoadedRun run = load_run(ckpt);
  apply_search(run, search);
  const int64_t max_new = vm["max-new"].as<int64_t>();
  if (max_new < 1 || max_new > 65536)
    throw cli::UsageError(fmt::format("--max-new {}: must be 1 to 65536", max_new));
  const bool from_stdin = !vm.count("text");
  // Arguments are one chunk; stdin is read, checked and predicted a chunk at
  // a time, each chunk's lines all checked before any of them is predicted.
  size_t done = 0;
  for (bool first = true;; first = false) {
    const std::vector<std::string> texts =
        from_stdin
            ? read_input_lines(std::cin, kLinesPerChunk, done)
            : (first ? vm["text"].as<std::vector<std::string>>() : std::vector<std::string>{});
    if (texts.empty()) {
      if (first)
        throw cli::UsageError("no input: give texts as arguments or one per line on stdin");
      break;
    }
    // Text output is input<TAB>output<TAB>probability: an input's own TAB would shift the
    // columns.
    for (size_t i = 0; i < texts.size(); ++i)
      if (out_format == OutputFormat::Text && texts[i].find('\t') != std::string::npos)
        throw cli::UsageError(fmt::format(
            "{} {} contains a TAB, which would make the tab-separated output ambiguous; use "
            "--format jsonl",
            from_stdin ? "stdin line" : "input", done + i + 1));
    // On stderr, so that stdout stays one result per input.
    if (first)
      fmt::print(stderr, "attnlab predict: {} ({})\n", run.file, which_model(run.file, run.info));
    std::vector<Prediction> predictions;
    try {
      predictions = run.framing->predict(texts, 64, size_t(max_new));
    } catch (const std::invalid_argument& e) {
      if (done == 0) throw;
      throw std::invalid_argument(fmt::format("after the first {} lines: {}", done, e.what()));
    }
    for (size_t i = 0; i < texts.size(); ++i) {
      if (out_format == OutputFormat::Jsonl)
        fmt::print("{}\n",
                   prediction_json(texts[i], predictions[i], *run.vocab, run.info.labels, max_new));
      else
        fmt::print("{}\t{}\t{:.4f}\n", texts[i], predictions[i].text, predictions[i].probability);
    }
    std::fflush(stdout);
    done += texts.size();
    if (!from_stdin) break;
  }
  return cli::kExitOk;
}

namespace {

// baseline --task-kind lm: interpolated Kneser-Ney character models of
// orders 1..max_order on the text train reads, the order chosen on the
// held-out text.
int text_baseline(const po::variables_map& vm, const std::string& task,
                  const std::string& train_file, const std::string& valid_file, int max_order) {
  if (max_order < 1 || max_order > 16) throw cli::UsageError("--max-n must be in 1..16 for lm");
  if (task.empty() && train_file.empty())
    throw cli::UsageError("--task-kind lm: give a --train-file (a text) or a built-in --task");
  TrainConfig config = recipe(Family::GPT, task);
  config.task_kind = data::TaskKind::LanguageModel;
  config.train_file = train_file;
  config.valid_file = valid_file;
  if (vm.count("train-size")) config.train_size = vm["train-size"].as<int64_t>();
  if (vm.count("valid-size")) config.valid_size = vm["valid-size"].as<int64_t>();
  if (vm.count("data-seed")) config.data_seed = vm["data-seed"].as<uint64_t>();
  const PreparedData d = prepare_data(config);
  std::string train_text, held_out;
  for (const data::Example& e : d.dataset.train) train_text += e.source;
  for (const data::Example& e : d.dataset.valid) held_out += e.source;
  const std::string source = task.empty() ? train_file : "task " + task;
  const std::u32string train = code_points(train_text, source);
  const std::u32string valid = code_points(held_out, source + " (held-out)");
  // Each order's tables hold at most one context per character and order;
  // about 200 bytes each with the counts that follow.
  const double need = 200.0 * double(train_text.size()) * double(max_order);
  const MemoryLimit limit = process_memory_limit();
  if (need > limit.bytes)
    throw cli::UsageError(fmt::format(
        "--max-n {}: Kneser-Ney tables for {} of text need up to {}, more than the {} this "
        "process may use ({}); lower --max-n or give a shorter text",
        max_order, memory_size(double(train_text.size())), memory_size(need),
        memory_size(limit.bytes), limit.source));
  fmt::print(
      "interpolated Kneser-Ney character models on {} ({} train / {} held-out characters):\n",
      source, train.size(), valid.size());
  int best_order = 1;
  double best = INFINITY;
  for (int order = 1; order <= max_order; ++order) {
    const KneserNey model(train, order);
    const double bits = model.bits_per_char(valid);
    fmt::print("  order {:2}: {:.3f} bits/char\n", order, bits);
    if (bits < best) best = bits, best_order = order;
  }
  fmt::print("best: order {} at {:.3f} bits/char (the order is chosen on this held-out text)\n",
             best_order, best);
  return cli::kExitOk;
}

}  // namespace

int baseline_command(int argc, char** argv) {
  po::options_description options("baseline options");
  std::string task, train_file, valid_file, kind = "classification";
  int64_t train_size = 0, valid_size = 0;
  uint64_t data_seed = 0;
  NaiveBayesOptions nb;
  options.add_options()                                                      //
      ("task", po::value(&task), "built-in classification task")             //
      ("train-file", po::value(&train_file), "label<TAB>text training TSV")  //
      ("valid-file", po::value(&valid_file),
       "held-out TSV (default: the last 10% of --train-file, as train does)")  //
      ("train-size", po::value(&train_size),
       "built-in task: training examples (default: as train generates them)")      //
      ("valid-size", po::value(&valid_size), "built-in task: held-out examples")   //
      ("data-seed", po::value(&data_seed), "built-in task: seed of the examples")  //
      ("task-kind", po::value(&kind)->default_value(kind),
       "classification (naive Bayes) or lm (a Kneser-Ney character model's bits per character)")  //
      ("max-n", po::value(&nb.max_n)->default_value(4),
       "longest character n-gram (lm: the highest order tried, default 8)")  //
      ("alpha", po::value(&nb.alpha)->default_value(0.5), "additive smoothing");
  po::variables_map vm;
  if (!cli::parse_options("baseline",
                          "Character n-gram naive Bayes on a classification task, or an "
                          "interpolated Kneser-Ney character model on a text (--task-kind lm): "
                          "the held-out accuracy or bits per character a trained model should "
                          "beat. Same data and split as train.",
                          argc, argv, options, vm))
    return cli::kExitOk;
  if (kind != "classification" && kind != "lm")
    throw cli::UsageError(fmt::format("--task-kind {}: give classification or lm", kind));
  if (kind == "lm" ||
      (!task.empty() && data::task_info(task).kind == data::TaskKind::LanguageModel))
    return text_baseline(vm, task, train_file, valid_file, vm["max-n"].defaulted() ? 8 : nb.max_n);
  if (nb.max_n < 1 || nb.max_n > 8 || !(nb.alpha > 0))
    throw cli::UsageError("--max-n must be in 1..8 and --alpha > 0");
  // The data train would use: a built-in task's recipe sets its size.
  TrainConfig config = recipe(Family::BERT, task);
  if (vm.count("train-size")) config.train_size = train_size;
  if (vm.count("valid-size")) config.valid_size = valid_size;
  if (vm.count("data-seed")) config.data_seed = data_seed;
  config.train_file = train_file;
  config.valid_file = valid_file;
  config.task_kind = data::TaskKind::Classification;
  if (!task.empty()) config.task_kind = data::task_info(task).kind;
  if (config.task_kind != data::TaskKind::Classification)
    throw cli::UsageError(fmt::format(
        "--task {}: the baseline classifies; this task is {}", task,
        config.task_kind == data::TaskKind::LanguageModel ? "language modelling" : "translation"));
  try {
    validate(config);
  } catch (const std::invalid_argument& e) {
    throw cli::UsageError(e.what());
  }
  const PreparedData d = prepare_data(config);
  const NaiveBayes model(d.dataset.train, d.dataset.labels, nb);
  const EvalMetrics m = evaluate_baseline(model, d.dataset.valid, d.dataset.labels);
  fmt::print(
      "naive Bayes, character 1..{}-grams (alpha {}) on {} ({} train / {} held-out):\n  "
      "acc {:.2f}%  macro-F1 {:.2f}%\n",
      nb.max_n, nb.alpha, task.empty() ? train_file : task, d.dataset.train.size(),
      d.dataset.valid.size(), 100 * m.accuracy, 100 * m.macro_f1);
  return cli::kExitOk;
}

int tasks_command(int argc, char** argv) {
  po::options_description options("tasks options");
  po::variables_map vm;
  if (!cli::parse_options("tasks", "Lists the built-in tasks and the tuned recipes.", argc, argv,
                          options, vm))
    return cli::kExitOk;
  fmt::print("built-in tasks (attnlab train --task NAME):\n");
  for (const auto& t : data::list_tasks())
    fmt::print("  {:<10} {:<15} {}\n", t.name, data::task_kind_name(t.kind), t.description);
  fmt::print("\ntuned recipes (attnlab train --model M --task T uses them as defaults):\n");
  for (const auto& r : list_recipes())
    fmt::print("  --model {:<9} --task {:<10} {}\n", family_name(r.model), r.task, r.note);
  fmt::print("\nother pairs train with generic defaults; bert and perceiver classify only.\n");
  return cli::kExitOk;
}

}  // namespace attnlab
