#include "train/trainer.h"

#include "models/stats.h"
#include "train/memory_limit.h"
#include "train/metrics_log.h"

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

}  // namespace

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
    if (comm_.is_root()) {  // the run directory's files must all be of one run
      if (std::filesystem::exists(dir_->best())) {
        resumed_best_ = read_checkpoint_info(dir_->best());
        check_same_run(resumed, resume_from, *resumed_best_, dir_->best());
      }
      run_id_ = check_log_belongs(resumed, resume_from);
    }
  } else {
    run_id_ = new_run_id();
  }
  // A built-in task knows its kind; record it, so the stored config says
  // what the run was.
  if (!config_.task.empty()) config_.task_kind = data::task_info(config_.task).kind;
  if (options_.resume) config_.minutes = options_.resume_minutes;  // a budget is per invocation
  validate(config_);
  // Every product of the run, held-out evaluation included, in the run's
  // precision (a resumed run keeps the one it started with). Checked here,
  // not when a checkpoint is read: a bf16 run's float32 weights load on any
  // CPU.
  if (config_.precision == MatmulPrecision::BFloat16 && !bf16_supported())
    throw std::invalid_argument(
        "--precision bf16 needs a CPU with AVX-512 BF16 (vdpbf16ps; lscpu lists avx512_bf16) "
        "and a build with AVX-512; this one has none: use --precision float32" +
        std::string(options_.resume ? " (the run being resumed was started in bf16)" : ""));
  precision_ = std::make_unique<MatmulPrecisionScope>(config_.precision);
  // A run from a pretrained model reads its data with that model's vocabulary.
  std::optional<CheckpointInfo> pretrained;
  std::shared_ptr<data::Vocab> given_vocab;
  if (!options_.resume && !config_.init_from.empty()) {
    try {
      pretrained = read_checkpoint_info(config_.init_from);
    } catch (const InputError& e) {
      throw InputError(fmt::format("--init-from: {}", e.what()));
    }
    given_vocab = std::make_shared<data::Vocab>(stored_vocab(*pretrained));
    if (pretrained->train.vocab_size != kDefaultSubwordVocab &&
        config_.vocab_size != kDefaultSubwordVocab &&
        config_.vocab_size != pretrained->train.vocab_size)
      throw InputError(fmt::format(
          "--init-from {}: its tokenizer learned {} pieces; --vocab-size {} would read the data "
          "into other tokens (leave --vocab-size out)",
          config_.init_from, pretrained->train.vocab_size, config_.vocab_size));
    config_.vocab_size = pretrained->train.vocab_size;
    if (config_.tokenizer != TokenizerChoice::Auto &&
        enum_name(kTokenizerChoiceNames, config_.tokenizer) != pretrained->vocab_kind)
      throw InputError(fmt::format(
          "--init-from {}: its tokenizer is {}; --tokenizer {} would read the data into other "
          "tokens than it learned (leave --tokenizer out)",
          config_.init_from, pretrained->vocab_kind,
          enum_name(kTokenizerChoiceNames, config_.tokenizer)));
    config_.init_from = std::filesystem::absolute(config_.init_from).lexically_normal().string();
  }
  // A resumed fine-tuning run reads its data with the vocabulary it took,
  // and a subword one with the tokenizer it trained, not a retrained one.
  if (options_.resume && (!config_.init_from.empty() || is_subword(config_.tokenizer)))
    given_vocab = std::make_shared<data::Vocab>(stored_vocab(resumed));
  data_ = prepare_data(config_, given_vocab);
  // Stored absolute, so that eval and --resume find the files from any directory.
  if (!options_.resume)
    for (std::string* file : {&config_.train_file, &config_.valid_file})
      if (!file->empty()) *file = std::filesystem::absolute(*file).lexically_normal().string();
  config_.task_kind = data_.dataset.kind;  // built-in tasks bring their own kind
  // Stored resolved, so that a resumed run and a reader see what was used.
  config_.tokenizer = enum_from_name(kTokenizerChoiceNames, data_.vocab->kind_name(), "tokenizer");
  resolve_select_metric(config_, data_.dataset.kind);
  if (options_.resume && data_.vocab->tokens() != resumed.vocab_tokens)
    throw std::runtime_error(
        "--resume: the regenerated data gives another vocabulary than the checkpoint's");
  const auto& labels = data_.dataset.labels;
  ModelConfig mc =
      options_.resume ? resumed.model
      : pretrained
          ? model_config_from(pretrained->model, config_.init_from, config_, int64_t(labels.size()))
          : model_config_for(config_, data_.vocab->size(), int64_t(labels.size()));
  model_ = make_model(mc);
  if (pretrained) init_report_ = load_matching_parameters(config_.init_from, *model_);
  framing_ = make_framing({model_, data_.vocab, data_.dataset.kind, labels});
  framing_->check_lengths(data_.dataset.train, "training", data_.dataset.train_origin);
  framing_->check_lengths(data_.dataset.valid, "held-out", data_.dataset.valid_origin);
  train_ = framing_->encode(data_.dataset.train);
  valid_ = framing_->encode(data_.dataset.valid);
  if (framing_->streams_blocks()) {
    // A language model trains from its token stream alone: the text's lines
    // go before each epoch's block order is made beside the stream.
    std::vector<data::Example>().swap(data_.dataset.train);
    std::vector<std::string>().swap(data_.dataset.train_origin);
  }
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
    if (resumed_best_) {
      const TrainingState& best = resumed_best_->state;
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
  check_memory();
  if (dir_) dir_->check_writable(save_bytes());  // before hours of training, not after
}

void Trainer::check_memory() const {
  // A step holds one micro-batch's activations at a time (describe's
  // formula, for its longest rows), and the parameters with their
  // gradients and AdamW's two moments.
  int64_t row = framing_->streams_blocks() ? framing_->block_size() : 1;
  for (size_t length : train_lengths_) row = std::max(row, int64_t(length));
  const int64_t rows = std::max<int64_t>(1, config_.batch_size / comm_.size());
  const ModelStats stats = model_stats(model_->config(), row, rows);
  const double activations = stats.activation_bytes * double(row) * double(rows);
  const double state =
      4.0 * double(model_->parameter_count()) * double(dtype_size(model_->config().dtype));
  const MemoryLimit limit = process_memory_limit();
  if (activations + state <= limit.bytes) return;
  throw InputError(fmt::format(
      "a training step needs about {} of memory ({} of activations for a micro-batch of {} rows "
      "of up to {} tokens, {} of parameters, gradients and optimizer state), more than the {} "
      "this process may use ({}); lower --batch-size (now {}; --accumulation keeps the "
      "effective batch){}, or make the model smaller",
      memory_size(activations + state), memory_size(activations), rows, row, memory_size(state),
      memory_size(limit.bytes), limit.source, config_.batch_size,
      framing_->streams_blocks() ? fmt::format(", --block-size (now {})", framing_->block_size())
                                 : ""));
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
  std::string text = framing_->sample(valid_, uint64_t(state_.step));
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
  std::array<double, 5> sums{t.loss_sum, t.loss_count, t.correct_tokens, t.exact,
                             t.predicted_chars};
  comm_.sum(sums);
  EvalTally whole{
      sums[0], sums[1], sums[2], sums[3], comm_.gather_all(t.truth), comm_.gather_all(t.predicted)};
  whole.predicted_chars = sums[4];
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
  info.subword_model = std::string(data_.vocab->subword_model());
  info.labels = data_.dataset.labels;
  info.state = state_;
  info.state.dropout_rng = model_->dropout_rng();
  info.run_id = run_id_;
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

std::string Trainer::check_log_belongs(const CheckpointInfo& resumed,
                                       const std::string& checkpoint) {
  const std::string path = dir_->metrics();
  MetricsLog log = read_metrics_log(path);
  std::string logged_run;  // the last run id the log names
  for (size_t i = 0; i < log.lines.size(); ++i) {
    if (log.lines[i].find("\"run_id\"") == std::string::npos) continue;
    MetricsRecord record;
    try {
      record = parse_metrics_line(log.lines[i]);
    } catch (const std::invalid_argument&) {
      continue;  // plot reports such lines; they name no run
    }
    if (record.run_id.empty()) continue;
    if (!resumed.run_id.empty() && record.run_id != resumed.run_id)
      throw InputError(fmt::format(
          "{} line {} is the log of run {}, but {} is of run {}: a checkpoint copied from "
          "another run cannot continue this one; move one of them away",
          path, i + 1, record.run_id, checkpoint, resumed.run_id));
    logged_run = record.run_id;
  }
  resumed_log_torn_ = {log.torn_line, std::move(log.torn_text)};
  // A checkpoint from before run ids continues the run its log names.
  if (!resumed.run_id.empty()) return resumed.run_id;
  return logged_run.empty() ? new_run_id() : logged_run;
}

void Trainer::open_metrics_log() {
  if (!comm_.is_root()) return;
  const std::string path = dir_->metrics();
  // Append after what the run logged so far; a last line that a crash cut
  // off is reported and dropped, so the file stays one object per line.
  if (options_.resume && resumed_log_torn_.first > 0) {
    std::filesystem::resize_file(
        path, std::filesystem::file_size(path) - resumed_log_torn_.second.size());
    if (!options_.quiet)
      fmt::print(
          "note: {} line {} was cut off (the run stopped while writing it); it is "
          "dropped\n",
          path, resumed_log_torn_.first);
  }
  metrics_ = std::fopen(path.c_str(), options_.resume ? "a" : "w");
  if (!metrics_)
    throw std::runtime_error(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  if (options_.resume)
    log_json(resume_line(state_.step, config_.steps, run_id_));
  else
    log_json(start_line(run_id_, family_name(config_.model),
                        config_.task.empty() ? config_.train_file : config_.task));
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

}  // namespace attnlab
