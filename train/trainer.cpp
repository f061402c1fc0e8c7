#include "train/trainer.h"

#include "train/metrics_log.h"

#include "autograd/parallel.h"
#include "common/errors.h"
#include "common/hash.h"
#include "data/rng.h"

#include <fmt/format.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <stdexcept>

#include "data/batching.h"
#include "data/tasks.h"
#include "data/text_file.h"
#include "data/tsv.h"
#include "data/utf8.h"
#include "train/progress.h"
#include "train/stop_signals.h"

namespace attnlab {

namespace {

const char* metric_name(SelectMetric metric) {
  return enum_name(kSelectMetricNames, metric);
}

// Auto becomes the task kind's headline metric; a metric the task kind does
// not report is refused.
void resolve_select_metric(TrainConfig& c, data::TaskKind kind) {
  if (kind == data::TaskKind::LanguageModel) {  // held-out loss is what a language model reports
    if (c.select_metric != SelectMetric::Auto && c.select_metric != SelectMetric::Loss)
      throw std::invalid_argument(
          fmt::format("--select-metric {}: a language model reports only the held-out loss",
                      metric_name(c.select_metric)));
    c.select_metric = SelectMetric::Loss;
    return;
  }
  const bool classification = kind == data::TaskKind::Classification;
  if (c.select_metric == SelectMetric::Auto)
    c.select_metric = classification ? SelectMetric::Accuracy : SelectMetric::ExactMatch;
  const bool fits = c.select_metric == SelectMetric::Loss ||
                    (classification ? c.select_metric == SelectMetric::Accuracy ||
                                          c.select_metric == SelectMetric::MacroF1
                                    : c.select_metric == SelectMetric::ExactMatch ||
                                          c.select_metric == SelectMetric::TokenAccuracy);
  if (!fits)
    throw std::invalid_argument(fmt::format(
        "--select-metric {}: a {} run reports {}", metric_name(c.select_metric),
        data::task_kind_name(kind),
        classification ? "accuracy, macro_f1 and loss" : "exact_match, token_accuracy and loss"));
}

// Fits a run's step count to a wall-clock budget (--minutes) from the time
// its steps, evaluations and saves have taken so far.
struct TimeBudget {
  double seconds = 0;  // 0: no budget
  double step_seconds = 0, eval_seconds = 0, save_seconds = 0;
  int64_t steps_timed = 0;

  bool active() const { return seconds > 0; }
  double per_step() const { return steps_timed ? step_seconds / double(steps_timed) : 0; }
  // Held back for the final evaluation and save.
  double reserve() const { return eval_seconds + save_seconds; }
  // Steps that still fit after `elapsed`, each with its share of evaluations.
  int64_t affordable(double elapsed, int64_t eval_every) const {
    const double per = per_step() + (eval_every > 0 ? eval_seconds / double(eval_every) : 0.0);
    if (per <= 0) return 0;
    return std::max<int64_t>(0, int64_t((seconds - elapsed - reserve()) / per));
  }
};

}  // namespace

PreparedData prepare_data(const TrainConfig& c) {
  PreparedData out;
  if (!c.task.empty())
    out.dataset = data::make_task(c.task, c.data_seed, size_t(c.train_size), size_t(c.valid_size));
  else if (c.task_kind == data::TaskKind::LanguageModel)
    out.dataset = data::load_text_dataset(c.train_file, c.valid_file);
  else
    out.dataset = data::load_tsv_dataset(c.task_kind, c.train_file, c.valid_file);
  if (out.dataset.valid.empty() && out.dataset.kind == data::TaskKind::LanguageModel &&
      out.dataset.train.size() < 10) {
    // A text of few lines (one long line is common): hold out its last tenth
    // by characters, cut at a character boundary.
    std::string all;
    for (const auto& e : out.dataset.train) all += e.source;
    const size_t chars = data::count_code_points(all, c.train_file);
    const size_t cut = chars - std::max<size_t>(1, chars / 10);
    size_t cut_byte = 0;  // where code point `cut` starts
    for (size_t i = 0; i < cut; ++i)
      cut_byte += data::code_point_length(all, cut_byte, c.train_file);
    out.dataset.valid = {data::Example{all.substr(cut_byte), ""}};
    all.resize(cut_byte);
    out.dataset.train = {data::Example{std::move(all), ""}};
    out.dataset.train_origin.resize(1);
    out.dataset.valid_origin = {c.train_file + " (its last tenth)"};
  }
  if (out.dataset.valid.empty()) {
    // No held-out file: hold out up to 10% of the training examples (at least 1).
    size_t n = std::max<size_t>(1, out.dataset.train.size() / 10);
    if (out.dataset.train.size() < 2)
      throw std::invalid_argument(fmt::format(
          "{}: needs at least 2 examples to hold one out for evaluation", c.train_file));
    out.dataset.valid.assign(out.dataset.train.end() - n, out.dataset.train.end());
    out.dataset.train.resize(out.dataset.train.size() - n);
    auto& origin = out.dataset.train_origin;
    if (!origin.empty()) {
      out.dataset.valid_origin.assign(origin.end() - n, origin.end());
      origin.resize(origin.size() - n);
    }
  }
  std::vector<std::string> texts;
  for (const auto& e : out.dataset.train) {
    texts.push_back(e.source);
    if (out.dataset.kind == data::TaskKind::Translation) texts.push_back(e.target);
  }
  // Classification labels are text too for the text-to-text families.
  for (const auto& label : out.dataset.labels) texts.push_back(label);
  // The data sets two sizes of the model: both are bounded before the model
  // is made, and the vocabulary while it is counted.
  const std::string source = c.task.empty() ? c.train_file : fmt::format("task '{}'", c.task);
  if (out.dataset.labels.size() > size_t(kMaxNumClasses))
    throw InputError(fmt::format("{}: {} distinct labels, more than the {} a classifier may have",
                                 source, out.dataset.labels.size(), kMaxNumClasses));
  data::VocabOptions vocab_options;
  vocab_options.max_distinct = size_t(kMaxVocabSize) - data::kNumSpecialTokens;
  vocab_options.source = source;
  out.vocab = std::make_shared<data::Vocab>(data::Vocab::build(
      resolve_tokenizer(c.tokenizer, out.dataset, !c.task.empty()), texts, vocab_options));
  return out;
}

data::TokenizerKind resolve_tokenizer(TokenizerChoice choice, const data::Dataset& dataset,
                                      bool built_in_task) {
  if (choice != TokenizerChoice::Auto)
    return choice == TokenizerChoice::Word ? data::TokenizerKind::Word : data::TokenizerKind::Char;
  if (built_in_task || dataset.kind != data::TaskKind::Classification || dataset.train.empty())
    return data::TokenizerKind::Char;
  size_t words = 0;
  for (const data::Example& e : dataset.train)
    words += data::count_tokens(data::TokenizerKind::Word, e.source);
  return words >= 3 * dataset.train.size() ? data::TokenizerKind::Word : data::TokenizerKind::Char;
}

Trainer::Trainer(TrainConfig config, TrainerOptions options)
    : config_(std::move(config)), options_(options) {
  if (options_.resume && options_.overwrite)
    throw std::invalid_argument("--resume and --overwrite contradict each other: choose one");
  // Rank 0 owns the run directory and all output; the other ranks only compute.
  if (!comm_.is_root()) options_.quiet = true;
  // The lock comes first: nothing may read or write the directory before.
  if (comm_.is_root())
    dir_ = std::make_unique<RunDirectory>(config_.out, options_.resume ? RunDirectory::Mode::Resume
                                                       : options_.overwrite
                                                           ? RunDirectory::Mode::Overwrite
                                                           : RunDirectory::Mode::Fresh);
  CheckpointInfo resumed;
  std::string resume_from;
  if (options_.resume) {
    resume_from = checkpoint_to_resume();
    resumed = read_checkpoint_info(resume_from);
    const std::string out = config_.out;
    config_ = resumed.train;  // the run continues with the settings it started with
    config_.out = out;
    if (options_.resume_steps > 0) config_.steps = options_.resume_steps;  // ... or a new length
  }
  // A built-in task knows its kind; record it, so the stored config says
  // what the run was.
  if (!config_.task.empty()) config_.task_kind = data::task_info(config_.task).kind;
  if (options_.resume) config_.minutes = options_.resume_minutes;  // a budget is per invocation
  validate(config_);
  data_ = prepare_data(config_);
  // Stored absolute, so that eval and --resume find the files from any directory.
  if (!options_.resume)
    for (std::string* file : {&config_.train_file, &config_.valid_file})
      if (!file->empty()) *file = std::filesystem::absolute(*file).lexically_normal().string();
  config_.task_kind = data_.dataset.kind;  // built-in tasks bring their own kind
  // Stored resolved, so that a resumed run and a reader see what was used.
  config_.tokenizer = data_.vocab->kind() == data::TokenizerKind::Word ? TokenizerChoice::Word
                                                                       : TokenizerChoice::Char;
  resolve_select_metric(config_, data_.dataset.kind);
  if (options_.resume && data_.vocab->tokens() != resumed.vocab_tokens)
    throw std::runtime_error(
        "--resume: the regenerated data gives another vocabulary than the checkpoint's");
  const auto& labels = data_.dataset.labels;
  ModelConfig mc = options_.resume
                       ? resumed.model
                       : model_config_for(config_, data_.vocab->size(), int64_t(labels.size()));
  model_ = make_model(mc);
  framing_ = make_framing({model_, data_.vocab, data_.dataset.kind, labels});
  framing_->check_lengths(data_.dataset.train, "training", data_.dataset.train_origin);
  framing_->check_lengths(data_.dataset.valid, "held-out", data_.dataset.valid_origin);
  train_ = framing_->encode(data_.dataset.train);
  valid_ = framing_->encode(data_.dataset.valid);
  if (!framing_->streams_blocks())
    train_lengths_ = framing_->row_lengths(train_, framing_->length_limit());
  OptimizerConfig oc;
  oc.kind = config_.optimizer;
  oc.weight_decay = config_.weight_decay;
  optimizer_ = std::make_unique<Optimizer>(model_->named_parameters(), oc);
  state_.dropout_rng = model_->dropout_rng();
  if (options_.resume) {
    load_parameters(resume_from, *model_);
    load_optimizer_state(resume_from, *optimizer_);
    resume_copy_.remove();  // read: the copy is no longer needed
    state_ = resumed.state;
    model_->set_dropout_rng(state_.dropout_rng);
    // best.h5 is written at every improvement, often after the last
    // checkpoint: the bar to beat is the better of the two.
    if (dir_ && std::filesystem::exists(dir_->best())) {
      const TrainingState best = read_checkpoint_info(dir_->best()).state;
      if (best.best_step > state_.best_step) {
        state_.best_metric = best.best_metric;
        state_.best_step = best.best_step;
      }
    }
    if (comm_.distributed()) {  // rank 0 read best.h5; early stopping must agree everywhere
      std::array<int64_t, 2> best{state_.best_step, std::bit_cast<int64_t>(state_.best_metric)};
      comm_.broadcast(best);
      state_.best_step = best[0];
      state_.best_metric = std::bit_cast<double>(best[1]);
    }
  }
  check_ranks_agree();
  if (dir_) dir_->check_writable(save_bytes());  // before hours of training, not after
}

std::string Trainer::checkpoint_to_resume() {
  const std::string path = checkpoint_path();
  std::string bytes;
  if (comm_.is_root()) {
    if (!std::filesystem::exists(path))
      throw std::invalid_argument(
          fmt::format("--resume: no checkpoint at {} (train without --resume first)", path));
    if (!comm_.distributed()) return path;
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (bytes.size() != std::filesystem::file_size(path))
      throw std::runtime_error(fmt::format("--resume: cannot read all of {}", path));
  }
  comm_.broadcast(bytes);
  if (comm_.is_root()) return path;
  // A private copy: ranks on one machine must not share a file name.
  std::string copy = (std::filesystem::temp_directory_path() / "attnlab-resume-XXXXXX").string();
  const int fd = ::mkstemp(copy.data());
  if (fd >= 0) resume_copy_.path = copy;
  if (fd < 0 || ::write(fd, bytes.data(), bytes.size()) != ssize_t(bytes.size()) ||
      ::close(fd) != 0)
    throw std::runtime_error(fmt::format("rank {}: cannot write a copy of {} to {}: {}",
                                         comm_.rank(), path, copy, std::strerror(errno)));
  return copy;
}

void Trainer::check_ranks_agree() const {
  if (!comm_.distributed()) return;
  // Hashes (common/hash.h) of what every rank must have built identically: a
  // rank that differs would compute other gradients, or make other
  // collective calls (another --eval-every) and leave the others waiting.
  uint64_t settings = kFnvOffset, data = kFnvOffset, model = kFnvOffset;
  const auto feed_text = [](uint64_t& h, const std::string& text) {
    h = fnv1a(h, text.data(), text.size() + 1);
  };
  // Paths may differ between machines; the data's hash covers their contents.
  for (const auto& [key, value] : train_config_fields().to_map(config_))
    if (key != "out" && key != "train_file" && key != "valid_file")
      feed_text(settings, key + "=" + value);
  for (const auto& [key, value] : model_config_fields().to_map(model_->config()))
    feed_text(settings, key + "=" + value);
  for (int64_t option : {options_.stop_at, options_.resume_steps, int64_t(options_.resume),
                         int64_t(options_.overwrite)})
    settings = fnv1a(settings, &option, sizeof option);
  settings = fnv1a(settings, &options_.resume_minutes, sizeof options_.resume_minutes);
  for (const std::string& token : data_.vocab->tokens()) feed_text(data, token);
  for (const auto* split : {&train_, &valid_})
    for (const auto& e : *split) {
      data = fnv1a(data, e.source.data(), e.source.size() * sizeof(int32_t));
      data = fnv1a(data, e.target.data(), e.target.size() * sizeof(int32_t));
    }
  for (const auto& [name, p] : model_->named_parameters()) {
    const std::vector<float> values = p.to_floats();
    model = fnv1a(model, values.data(), values.size() * sizeof(float));
  }
  // Equal everywhere exactly when max(h) == ~max(~h), that is, max == min.
  std::array<int64_t, 6> extremes;
  const uint64_t hashes[] = {settings, data, model};
  for (size_t i = 0; i < 3; ++i)
    extremes[2 * i] = int64_t(hashes[i]), extremes[2 * i + 1] = ~int64_t(hashes[i]);
  comm_.max(extremes);
  const auto differ = [&](size_t i) { return extremes[2 * i] != ~extremes[2 * i + 1]; };
  if (differ(0))
    throw std::runtime_error(
        "the ranks were given different settings: every rank must get the same options and the "
        "same --config file contents");
  if (differ(1))
    throw std::runtime_error(
        "the ranks built different data: every rank must read the same files (the same "
        "--train-file and --valid-file contents on every machine)");
  if (differ(2))
    throw std::runtime_error(
        "the ranks built different models from the same settings: run the same attnlab build "
        "on every machine");
}

int64_t Trainer::save_bytes() const {
  int64_t params = 0;
  for (const auto& [name, t] : model_->named_parameters()) params += t.numel();
  const int64_t slots = config_.optimizer == OptimizerKind::SGD ? 1 : 2;
  // At the peak of a save: the old checkpoint.h5, the new one written beside
  // it (weights and optimizer slots each), and best.h5 (weights), plus room
  // for metadata.
  return params * int64_t(sizeof(float)) * (2 * (1 + slots) + 1) + (int64_t(1) << 20);
}

Trainer::~Trainer() {
  if (metrics_) std::fclose(metrics_);
}

void Trainer::LocalCopy::remove() {
  std::error_code ignored;
  if (!path.empty()) std::filesystem::remove(path, ignored);
  path.clear();
}

std::string Trainer::checkpoint_path() const {
  // Ranks other than 0 have no run directory, but name the same file.
  return dir_ ? dir_->checkpoint() : run_files::in(config_.out, run_files::kCheckpoint);
}

// A language model's continuation of the start of the held-out text, so the
// user watches it learn: 120 tokens sampled at temperature 0.8, seeded by the
// step (the same run prints the same samples).
std::string Trainer::sample_text() const {
  const std::vector<int32_t>& held_out = valid_[0].source;
  const size_t prompt = std::min<size_t>({held_out.size(), 16, size_t(framing_->block_size() / 2)});
  GenerateOptions o;
  o.max_new = std::min<int64_t>(120, framing_->block_size() - int64_t(prompt));
  if (o.max_new < 1) return "";
  o.temperature = 0.8;
  o.seed = uint64_t(state_.step);
  o.eos_id = -1;  // a text has no end token
  EvalScope scope(*model_);
  const std::vector<int32_t> start(held_out.begin(), held_out.begin() + int64_t(prompt));
  const Generated g = generate(*model_, {start}, nullptr, nullptr, o)[0];
  std::vector<int32_t> all = start;
  all.insert(all.end(), g.tokens.begin(), g.tokens.end());
  std::string text = data_.vocab->decode(all);  // word tokens get their spaces back
  for (char& c : text)
    if (c == '\n') c = ' ';  // one line in the progress output (a newline shows as a space)
  return text;
}

std::vector<size_t> Trainer::next_batch() {
  for (;;) {
    const bool blocks = framing_->streams_blocks();
    const size_t batch_size = size_t(config_.batch_size);
    if (planned_epoch_ != state_.epoch) {
      if (blocks) {
        epoch_blocks_ = data::block_order(train_[0].source.size(), size_t(framing_->block_size()),
                                          config_.seed, state_.epoch);
      } else {
        data::BatchingOptions bo;
        bo.batch_size = batch_size;
        epoch_batches_ = data::make_batches(train_lengths_, bo, config_.seed, state_.epoch);
      }
      planned_epoch_ = state_.epoch;
    }
    if (blocks) {
      if (state_.batch_in_epoch < data::block_batch_count(epoch_blocks_.size(), batch_size))
        return data::block_batch(epoch_blocks_, batch_size, state_.batch_in_epoch++);
    } else if (state_.batch_in_epoch < epoch_batches_.size()) {
      return epoch_batches_[state_.batch_in_epoch++];
    }
    ++state_.epoch;
    state_.batch_in_epoch = 0;
  }
}

std::pair<size_t, size_t> Trainer::my_part(size_t n) const {
  const size_t ranks = size_t(comm_.size()), r = size_t(comm_.rank());
  return {r * (n / ranks) + std::min(r, n % ranks), n / ranks + (r < n % ranks ? 1 : 0)};
}

std::span<const size_t> Trainer::my_rows(const std::vector<size_t>& batch) const {
  const auto [first, count] = my_part(batch.size());
  return std::span<const size_t>(batch).subspan(first, count);
}

EvalMetrics Trainer::evaluate_held_out() const {
  const size_t batch = size_t(config_.batch_size) * 2;
  if (!comm_.distributed()) return framing_->evaluate(valid_, batch, size_t(config_.eval_examples));
  // Contiguous parts in rank order, so that gathered labels keep row order.
  const size_t rows = framing_->eval_rows(valid_, size_t(config_.eval_examples));
  const auto [first, count] = my_part(rows);
  EvalTally t = framing_->tally(valid_, batch, first, first + count);
  std::array<double, 4> sums{t.loss_sum, t.loss_count, t.correct_tokens, t.exact};
  comm_.sum(sums);
  EvalTally whole{
      sums[0], sums[1], sums[2], sums[3], comm_.gather_all(t.truth), comm_.gather_all(t.predicted)};
  return framing_->metrics(whole, rows);
}

void Trainer::reduce_gradients() {
  if (!comm_.distributed()) return;  // one process: already the whole batch's gradients
  using Clock = std::chrono::steady_clock;
  const auto seconds_since = [](Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  };
  // Timed apart: a rank with longer rows waits for the others, which is not
  // the cost of communication.
  const auto arrived = Clock::now();
  comm_.barrier();
  wait_seconds_ += seconds_since(arrived);
  const auto start = Clock::now();
  const NamedTensors& params = optimizer_->params();
  // One flat buffer, one all-reduce: every gradient, then one flag per
  // parameter that counts the ranks that have a gradient for it. A parameter
  // that no rank reached keeps no gradient, as in one process, where the
  // optimizer then leaves it alone (no decay, no moment update).
  size_t total = 0;
  for (const auto& [_, p] : params) total += size_t(p.numel());
  gradient_buffer_.assign(total + params.size(), 0.0f);
  float* flags = gradient_buffer_.data() + total;
  size_t at = 0, k = 0;
  for (const auto& [name, p] : params) {
    if (p.dtype() != DType::F32)
      throw std::logic_error(fmt::format("{}: data-parallel training needs float32", name));
    const Tensor g = p.grad();
    if (g.defined()) {
      std::copy_n(g.data<float>(), g.numel(), gradient_buffer_.data() + at);
      flags[k] = 1;
    }
    at += size_t(p.numel()), ++k;
  }
  comm_.sum(gradient_buffer_);
  at = 0, k = 0;
  for (const auto& [_, p] : params) {
    if (flags[k] > 0) {
      if (!p.grad().defined()) p.impl()->grad = Tensor::zeros(p.shape()).impl_ptr();
      std::copy_n(gradient_buffer_.data() + at, p.numel(), p.grad().data<float>());
    }
    at += size_t(p.numel()), ++k;
  }
  allreduce_seconds_ += seconds_since(start);
}

CheckpointInfo Trainer::checkpoint_info() const {
  CheckpointInfo info;
  info.model = model_->config();
  info.train = config_;
  info.task_kind = data_.dataset.kind;
  info.vocab_kind = std::string(data_.vocab->kind_name());
  info.vocab_tokens = data_.vocab->tokens();
  info.labels = data_.dataset.labels;
  info.state = state_;
  info.state.dropout_rng = model_->dropout_rng();
  return info;
}

void Trainer::write_checkpoint(const std::string& path, const char* what,
                               const Optimizer* optimizer) {
  StopSignals::SavingScope saving;  // a signal now must not cut the save short
  try {
    save_checkpoint(path, checkpoint_info(), *model_, optimizer);
  } catch (const std::exception& e) {
    throw std::runtime_error(
        fmt::format("could not save {} at step {}: {}. The previous {} is "
                    "kept as it was.",
                    what, state_.step, e.what(), path));
  }
}

void Trainer::save(const std::string& why) {
  if (!comm_.is_root()) return;  // rank 0 writes for the run
  write_checkpoint(checkpoint_path(), "the checkpoint", optimizer_.get());
  if (!options_.quiet)
    emit(stdout, fmt::format("saved {} at step {} ({})\n", checkpoint_path(), state_.step, why));
}

void Trainer::open_metrics_log() {
  if (!comm_.is_root()) return;
  const std::string path = dir_->metrics();
  if (options_.resume) {
    // Append after what the run logged so far; a last line that a crash cut
    // off is reported and dropped, so the file stays one object per line.
    const MetricsLog log = read_metrics_log(path);
    if (log.torn_line > 0) {
      std::filesystem::resize_file(path, std::filesystem::file_size(path) - log.torn_text.size());
      if (!options_.quiet)
        fmt::print(
            "note: {} line {} was cut off (the run stopped while writing it); it is "
            "dropped\n",
            path, log.torn_line);
    }
  }
  metrics_ = std::fopen(path.c_str(), options_.resume ? "a" : "w");
  if (!metrics_)
    throw std::runtime_error(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  if (options_.resume) log_json(resume_line(state_.step, config_.steps));
}

void Trainer::save_best() {
  if (!comm_.is_root()) return;
  write_checkpoint(dir_->best(), "the best model", nullptr);  // no optimizer: it is not resumed
}

bool Trainer::record_evaluation(const EvalMetrics& m) {
  const double value = m.value(config_.select_metric);
  const bool lower_is_better = config_.select_metric == SelectMetric::Loss;
  const bool improved = state_.best_step < 0 ||
                        (lower_is_better ? value < state_.best_metric : value > state_.best_metric);
  if (!improved) {
    ++state_.evals_without_improvement;
    return false;
  }
  state_.best_metric = value;
  state_.best_step = state_.step;
  state_.evals_without_improvement = 0;
  save_best();
  return true;
}

void Trainer::log_json(const std::string& line) {
  if (!metrics_) return;  // ranks other than 0 keep no log
  if (std::fputs((line + "\n").c_str(), metrics_) < 0 || std::fflush(metrics_) != 0)
    throw std::runtime_error(
        fmt::format("cannot write {}: {}", dir_->metrics(), std::strerror(errno)));
}

TrainResult Trainer::run() {
  TrainResult result;
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  const ModelConfig& mc = model_->config();
  if (!options_.quiet) {
    const bool classification = data_.dataset.kind == data::TaskKind::Classification;
    const bool lm = data_.dataset.kind == data::TaskKind::LanguageModel;
    fmt::print("attnlab train: {} on {} ({}{}), {} train / {} held-out {}, vocab {}\n",
               family_name(config_.model), config_.task.empty() ? config_.train_file : config_.task,
               data::task_kind_name(data_.dataset.kind),
               classification ? fmt::format(", {} labels", data_.dataset.labels.size())
               : lm           ? fmt::format(", blocks of {} tokens", framing_->block_size())
                              : "",
               lm ? train_[0].source.size() : train_.size(),
               lm ? valid_[0].source.size() : valid_.size(), lm ? "tokens" : "examples",
               data_.vocab->size());
    fmt::print("model: d_model {} heads {} d_ff {} layers {}{} | {} parameters | {} threads\n",
               mc.d_model, mc.n_heads, mc.d_ff, mc.n_layers,
               mc.family == Family::T5 ? fmt::format("+{}", mc.n_decoder_layers) : "",
               model_->parameter_count(), thread_count());
    if (state_.step > 0)
      fmt::print(
          "resuming at step {} of {} with the run's stored settings (lr {}, batch size {}, "
          "seed {}; `h5dump -g train_config {}` lists them all)\n",
          state_.step, config_.steps, config_.lr, config_.batch_size, config_.seed,
          checkpoint_path());
  }
  // Restored on every exit path, exceptions included, and once the final
  // checkpoint is saved: a signal during the examples shown after it then
  // ends the process at once, as it would any other program.
  std::optional<StopSignals> stop_signals(std::in_place);
  if (options_.overwrite && dir_) dir_->start_over();
  open_metrics_log();
  Progress progress(options_.quiet ? Progress::Mode::Silent : Progress::detect(),
                    config_.log_every);
  const ScheduleKind schedule = config_.schedule;
  const int64_t first_step = state_.step;
  TimeBudget budget{config_.minutes * 60};
  // Until the first fit (after a few steps) the run must not end by count,
  // also when a resumed run had reached its stored step count.
  if (budget.active())
    config_.steps = state_.step + std::max<int64_t>(config_.steps - state_.step, 1000);
  // With a budget, warmup keeps its share of the (refitted) step count.
  const double warmup_share =
      config_.steps > 0 ? std::min(1.0, double(config_.warmup) / double(config_.steps)) : 0.0;
  const auto fit_to_budget = [&](double now) {
    config_.steps = state_.step + std::max<int64_t>(1, budget.affordable(now, config_.eval_every));
    config_.warmup = std::llround(warmup_share * double(config_.steps));
  };
  int64_t tokens_since = 0;
  double window_start = elapsed();
  model_->train();
  // The ranks act as one: rank 0 alone keeps the time budget (its step count
  // and warmup, which the budget refits, win), and a stop signal that reached
  // any rank stops them all (mpirun passes Ctrl-C on as SIGTERM).
  const auto agree_with_root = [&] {
    constexpr int64_t kNone = std::numeric_limits<int64_t>::min();
    const bool root = comm_.is_root();
    std::array<int64_t, 4> agreed{root ? config_.steps : kNone, root ? config_.warmup : kNone,
                                  root ? int64_t(result.out_of_time) : kNone,
                                  int64_t(StopSignals::received())};
    comm_.max(agreed);
    config_.steps = agreed[0];
    config_.warmup = agreed[1];
    result.out_of_time = agreed[2] != 0;
    return int(agreed[3]);
  };
  for (;;) {
    // Rank 0 may have refitted the budget after its last evaluation.
    if (comm_.distributed() && budget.active()) agree_with_root();
    if (state_.step >= config_.steps) break;
    if (options_.stop_at > 0 && state_.step >= options_.stop_at) break;
    const double step_start = elapsed();
    if (comm_.distributed()) {
      // Each rank's own dropout stream, a function of (seed, step, rank), so
      // that a run resumed on the same number of ranks draws the same masks.
      const uint64_t stream = data::mix_seeds(config_.seed, 0x64726f70 /* "drop" */);
      model_->set_dropout_rng(Generator{
          data::mix_seeds(data::mix_seeds(stream, uint64_t(state_.step)), uint64_t(comm_.rank())),
          0});
    }
    // One optimizer step over `accumulation` micro-batches.
    double step_loss = 0;
    for (int64_t micro = 0; micro < config_.accumulation; ++micro) {
      const std::vector<size_t> batch = next_batch();
      const std::span<const size_t> idx = my_rows(batch);
      // The masking stream depends only on (seed, step, micro-batch): a resumed run redraws it.
      const uint64_t mask_seed =
          data::mix_seeds(data::mix_seeds(config_.seed, 0x6d6c6d /* "mlm" */),
                          uint64_t(state_.step * config_.accumulation + micro));
      if (!idx.empty()) {
        // On several ranks, this rank's share of the batch's loss: the ranks'
        // shares add up to the whole batch's mean.
        Tensor loss = framing_->loss(
            train_, idx, {config_.label_smoothing, config_.mlm_weight, mask_seed},
            comm_.distributed() ? std::span<const size_t>(batch) : std::span<const size_t>());
        step_loss += loss.item() / double(config_.accumulation);
        if (config_.accumulation > 1) loss = mul_scalar(loss, 1.0 / double(config_.accumulation));
        loss.backward();
      }
      tokens_since += framing_->tokens_read(train_, batch);
    }
    comm_.sum(std::span<double>(&step_loss, 1));
    if (!std::isfinite(step_loss)) {
      throw std::runtime_error(fmt::format(
          "step {}: the loss is {}; training stopped without saving this state. The last good "
          "checkpoint is {} (if one was saved). Try a lower --lr (now {}) or a tighter --clip "
          "(now {}).",
          state_.step + 1, step_loss, checkpoint_path(), config_.lr, config_.clip));
    }
    reduce_gradients();
    const double norm = clip_grad_norm(optimizer_->params(), config_.clip);
    if (!std::isfinite(norm)) {
      throw std::runtime_error(fmt::format(
          "step {}: the gradient norm is {}; training stopped without saving this state. The last "
          "good checkpoint is {}. Try a lower --lr (now {}).",
          state_.step + 1, norm, checkpoint_path(), config_.lr));
    }
    const double lr = schedule_lr(schedule, config_.lr, state_.step + 1, config_.warmup,
                                  config_.steps, config_.min_lr_ratio);
    optimizer_->step(lr);
    optimizer_->zero_grad();
    ++state_.step;
    if (state_.step == first_step + 1) result.first_loss = step_loss;
    result.last_loss = step_loss;

    double now = elapsed();
    if (budget.active()) {
      budget.step_seconds += now - step_start;
      ++budget.steps_timed;
      if (budget.steps_timed == 5 || budget.steps_timed == 20 || budget.steps_timed % 100 == 0)
        fit_to_budget(now);
      // Refitted now and then: a shared machine changes speed. Out of time:
      // this step is the last, with its final evaluation and save.
      if (now + budget.per_step() + budget.reserve() >= budget.seconds) {
        result.out_of_time = config_.steps != state_.step;
        config_.steps = state_.step;
      }
    }
    const int stop_signal = comm_.distributed() ? agree_with_root() : 0;
    const double tokens_per_s = tokens_since / std::max(now - window_start, 1e-9);
    progress.update(
        ProgressLine{state_.step, config_.steps, step_loss, lr, tokens_per_s, now,
                     now / double(state_.step - first_step) * double(config_.steps - state_.step)});
    if (state_.step % config_.log_every == 0 || state_.step == config_.steps) {
      log_json(metrics_line({state_.step, step_loss, lr, norm, tokens_per_s, now, comm_.size(),
                             wait_seconds_, allreduce_seconds_}));
      tokens_since = 0;
      window_start = now;
    }
    const bool last = state_.step == config_.steps;
    if ((config_.eval_every > 0 && state_.step % config_.eval_every == 0) || last) {
      const double eval_start = elapsed();
      EvalMetrics m = evaluate_held_out();
      const bool best = record_evaluation(m);
      budget.eval_seconds = elapsed() - eval_start;
      progress.message(fmt::format("step {} held-out ({} {}): {}{}", state_.step, m.examples,
                                   m.language_model
                                       ? fmt::format("blocks of {} tokens", framing_->block_size())
                                       : std::string("examples"),
                                   m.summary(), best ? "  (best so far: best.h5)" : ""));
      log_json(held_out_line(state_.step, m, elapsed()));
      if (m.language_model && comm_.is_root()) progress.message("  sample: " + sample_text());
      result.final_metrics = m;
      if (config_.early_stop > 0 && !last &&
          state_.evals_without_improvement >= config_.early_stop) {
        progress.message(fmt::format(
            "early stop: held-out {} has not improved for {} evaluations (best {:.4f} at step {})",
            metric_name(config_.select_metric), state_.evals_without_improvement,
            state_.best_metric, state_.best_step));
        result.early_stopped = true;
      }
      if (comm_.distributed()) {  // rank 0's decision, not each rank's reading of the sums
        std::array<int64_t, 1> stop{int64_t(result.early_stopped)};
        comm_.broadcast(stop);
        result.early_stopped = stop[0] != 0;
      }
      if (budget.active() && !last) fit_to_budget(elapsed());
    }
    if ((config_.save_every > 0 && state_.step % config_.save_every == 0 && !last)) {
      const double save_start = elapsed();
      save("periodic");
      budget.save_seconds = elapsed() - save_start;
    }
    if (result.early_stopped) break;
    if (const int signal = comm_.distributed() ? stop_signal : StopSignals::received()) {
      progress.finish();
      // Saved first: after a hang-up even printing can fail. Said even with
      // --quiet: whoever sent the signal wants to know it was heeded.
      save(fmt::format("stopped by {}; continue with --resume", StopSignals::name(signal)));
      if (comm_.is_root())
        emit(stderr, fmt::format("attnlab train: stopped by {} at step {}; saved {}, continue with "
                                 "--resume\n",
                                 StopSignals::name(signal), state_.step, checkpoint_path()));
      result.interrupted = true;
      result.stop_signal = signal;
      break;
    }
  }
  progress.finish();
  if (!result.interrupted)
    save(result.early_stopped ? "early stop"
         : state_.step == config_.steps
             ? (result.out_of_time ? "final, the time budget is spent" : "final")
             : "stopped early");
  stop_signals.reset();
  result.steps = state_.step;
  result.best_metric = state_.best_metric;
  result.best_step = state_.best_step;
  result.seconds = elapsed();
  result.checkpoint = checkpoint_path();
  if (!options_.quiet && options_.show_predictions > 0 && !result.interrupted &&
      !framing_->streams_blocks()) {  // its samples were shown as it ran
    std::vector<std::string> inputs;
    size_t longest_target = 0;  // in tokens: a prediction needs no more (and its EOS)
    for (size_t i = 0; i < valid_.size() && int(inputs.size()) < options_.show_predictions; ++i) {
      inputs.push_back(data_.dataset.valid[i].source);
      longest_target = std::max(longest_target, valid_[i].target.size());
    }
    auto predictions = framing_->predict(inputs, 64, longest_target + 1);
    fmt::print("\nheld-out examples (input -> prediction, expected):\n");
    for (size_t i = 0; i < inputs.size(); ++i) {
      const bool ok = predictions[i].text == data_.dataset.valid[i].target;
      fmt::print("  {:<28} -> {:<28} {} {}\n", inputs[i], predictions[i].text, ok ? "ok  " : "MISS",
                 ok ? "" : "expected " + data_.dataset.valid[i].target);
    }
    fmt::print("\ntrained {} steps in {:.1f} s; held-out {}\n", result.steps, result.seconds,
               result.final_metrics.summary());
    if (state_.best_step >= 0)
      fmt::print("best held-out {} {:.4f} at step {}: {} (the last state is {})\n",
                 metric_name(config_.select_metric), state_.best_metric, state_.best_step,
                 dir_->best(), checkpoint_path());
  }
  return result;
}

}  // namespace attnlab
