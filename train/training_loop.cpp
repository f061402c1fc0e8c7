// Trainer::run() and its steps: the loop that turns batches into optimizer
// steps, with the time budget, the ranks' agreement, progress and metrics
// lines, held-out evaluations, early stopping and stop signals.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>

#include "autograd/parallel.h"
#include "data/rng.h"
#include "train/metrics_log.h"
#include "train/progress.h"
#include "train/stop_signals.h"
#include "train/time_budget.h"
#include "train/trainer.h"

namespace attnlab {

struct Trainer::Session {
  explicit Session(Progress progress) : progress(progress) {}
  TrainResult result;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  Progress progress;
  TimeBudget budget;
  int64_t first_step = 0;    // where this call started (a resumed run's step)
  double warmup_share = 0;   // of the step count, kept when the budget refits it
  int64_t tokens_since = 0;  // tokens read since the last metrics line ...
  double window_start = 0;   // ... and when that window began
  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
};

namespace {

const char* metric_name(SelectMetric metric) {
  return enum_name(kSelectMetricNames, metric);
}

}  // namespace

TrainResult Trainer::run() {
  // The run's precision, even when another trainer was built after this one.
  const MatmulPrecisionScope precision(config_.precision);
  Session s(
      Progress(options_.quiet ? Progress::Mode::Silent : Progress::detect(), config_.log_every));
  print_banner();
  // Restored on every exit path, exceptions included, and once the final
  // checkpoint is saved: a signal during the examples shown after it then
  // ends the process at once, as it would any other program.
  std::optional<StopSignals> stop_signals(std::in_place);
  if (options_.overwrite && dir_) dir_->start_over();
  open_metrics_log();
  s.first_step = state_.step;
  start_time_budget(s);
  // The heads as initialised, before they learn anything (not counted in
  // the first throughput window).
  if (config_.trace_every != 0 && state_.step == 0) log_attention(s);
  s.window_start = s.elapsed();
  model_->train();
  for (;;) {
    // Rank 0 may have refitted the budget after its last evaluation.
    if (comm_.distributed() && s.budget.active()) agree_with_root(s);
    if (state_.step >= config_.steps) break;
    if (options_.stop_at > 0 && state_.step >= options_.stop_at) break;
    const double step_start = s.elapsed();
    const StepOutcome step = train_step(s);
    if (step.abandoned) {
      stop_for_signal(s, StopSignals::received());
      break;
    }
    const double now = s.elapsed();
    keep_time_budget(s, step_start, now);
    const int agreed_signal = comm_.distributed() ? agree_with_root(s) : 0;
    report_step(s, step, now);
    const bool last = state_.step == config_.steps;
    const bool evaluating =
        (config_.eval_every > 0 && state_.step % config_.eval_every == 0) || last;
    if (evaluating) evaluate_and_decide(s, last);
    if ((config_.trace_every > 0 && state_.step % config_.trace_every == 0) ||
        (config_.trace_every == -1 && evaluating))
      log_attention(s);
    if (config_.save_every > 0 && state_.step % config_.save_every == 0 && !last) {
      const double save_start = s.elapsed();
      save("periodic");
      s.budget.save_seconds = s.elapsed() - save_start;
    }
    if (s.result.early_stopped) break;
    if (const int signal = comm_.distributed() ? agreed_signal : StopSignals::received()) {
      stop_for_signal(s, signal);
      break;
    }
  }
  s.progress.finish();
  finish_run(s);
  stop_signals.reset();
  show_predictions(s.result);
  return s.result;
}

void Trainer::print_banner() const {
  if (options_.quiet) return;
  const ModelConfig& mc = model_->config();
  const bool classification = data_.dataset.kind == data::TaskKind::Classification;
  const bool lm = data_.dataset.kind == data::TaskKind::LanguageModel;
  fmt::print(
      "attnlab train: {} on {} ({}{}), {} train / {} held-out {}, vocab {}\n",
      family_name(config_.model), config_.task.empty() ? config_.train_file : config_.task,
      data::task_kind_name(data_.dataset.kind),
      classification ? fmt::format(", {} labels", data_.dataset.labels.size())
      : lm ? fmt::format(": {}, blocks of {} tokens", framing_->name(), framing_->block_size())
           : "",
      lm ? train_[0].source.size() : train_.size(), lm ? valid_[0].source.size() : valid_.size(),
      lm ? "tokens" : "examples", data_.vocab->size());
  fmt::print("model: d_model {} heads {} d_ff {} layers {}{} | {} parameters | {} threads\n",
             mc.d_model, mc.n_heads, mc.d_ff, mc.n_layers,
             model_->architecture() == Architecture::EncoderDecoder
                 ? fmt::format("+{}", mc.n_decoder_layers)
                 : "",
             model_->parameter_count(), thread_count());
  if (init_report_) {
    std::string fresh;
    for (size_t i = 0; i < init_report_->fresh.size() && i < 4; ++i)
      fresh += (i ? ", " : "") + init_report_->fresh[i];
    if (init_report_->fresh.size() > 4)
      fresh += fmt::format(" and {} more", init_report_->fresh.size() - 4);
    fmt::print("initialised from {}: {} of {} parameter tensors{}\n", config_.init_from,
               init_report_->loaded.size(),
               init_report_->loaded.size() + init_report_->fresh.size(),
               fresh.empty() ? "" : fmt::format("; new: {}", fresh));
    // Text the pretrained vocabulary lacks reads as <unk>: say how much.
    size_t tokens = 0, unknown = 0;
    for (const data::EncodedExample& e : train_)
      for (const auto* ids : {&e.source, &e.target}) {
        tokens += ids->size();
        unknown += size_t(std::count(ids->begin(), ids->end(), data::kUnkId));
      }
    if (unknown > 0)
      fmt::print(
          "note: {:.1f}% of the training tokens are not in the pretrained vocabulary and "
          "read as <unk>\n",
          100.0 * double(unknown) / double(tokens));
  }
  if (state_.step > 0)
    fmt::print(
        "resuming at step {} of {} with the run's stored settings (lr {}, batch size {}, "
        "seed {}; `h5dump -g train_config {}` lists them all)\n",
        state_.step, config_.steps, config_.lr, config_.batch_size, config_.seed,
        checkpoint_path());
}

void Trainer::start_time_budget(Session& s) {
  s.budget.seconds = config_.minutes * 60;
  // Until the first fit (after a few steps) the run must not end by count,
  // also when a resumed run had reached its stored step count.
  if (s.budget.active())
    config_.steps = state_.step + std::max<int64_t>(config_.steps - state_.step, 1000);
  s.warmup_share =
      config_.steps > 0 ? std::min(1.0, double(config_.warmup) / double(config_.steps)) : 0.0;
}

void Trainer::fit_to_budget(Session& s, double now) {
  config_.steps = state_.step + std::max<int64_t>(1, s.budget.affordable(now, config_.eval_every));
  config_.warmup = std::llround(s.warmup_share * double(config_.steps));
}

void Trainer::keep_time_budget(Session& s, double step_start, double now) {
  TimeBudget& budget = s.budget;
  if (!budget.active()) return;
  budget.step_seconds += now - step_start;
  ++budget.steps_timed;
  // Refitted now and then: a shared machine changes speed.
  if (budget.steps_timed == 5 || budget.steps_timed == 20 || budget.steps_timed % 100 == 0)
    fit_to_budget(s, now);
  // Out of time: this step is the last, with its final evaluation and save.
  if (now + budget.per_step() + budget.reserve() >= budget.seconds) {
    s.result.out_of_time = config_.steps != state_.step;
    config_.steps = state_.step;
  }
}

int Trainer::agree_with_root(Session& s) {
  // mpirun passes Ctrl-C on as SIGTERM, to every rank or to some.
  constexpr int64_t kNone = std::numeric_limits<int64_t>::min();
  const bool root = comm_.is_root();
  std::array<int64_t, 4> agreed{root ? config_.steps : kNone, root ? config_.warmup : kNone,
                                root ? int64_t(s.result.out_of_time) : kNone,
                                int64_t(StopSignals::received())};
  comm_.max(agreed);
  config_.steps = agreed[0];
  config_.warmup = agreed[1];
  s.result.out_of_time = agreed[2] != 0;
  return int(agreed[3]);
}

void Trainer::seed_dropout_for_rank() {
  // A run resumed on the same number of ranks draws the same masks.
  const uint64_t stream = data::mix_seeds(config_.seed, 0x64726f70 /* "drop" */);
  model_->set_dropout_rng(Generator{
      data::mix_seeds(data::mix_seeds(stream, uint64_t(state_.step)), uint64_t(comm_.rank())), 0});
}

Trainer::StepOutcome Trainer::train_step(Session& s) {
  if (comm_.distributed()) seed_dropout_for_rank();
  // Where the step starts, to go back to if a stop signal gives it up.
  const uint64_t epoch = state_.epoch, batch_in_epoch = state_.batch_in_epoch;
  const Generator dropout = model_->dropout_rng();
  StepOutcome step;
  for (int64_t micro = 0; micro < config_.accumulation; ++micro) {
    // A long accumulation must not keep a stop waiting: one process gives
    // the step up between micro-batches. (Ranks stop together, at the end of
    // a step: agree_with_root.)
    if (micro > 0 && !comm_.distributed() && StopSignals::received()) {
      optimizer_->zero_grad();
      state_.epoch = epoch;
      state_.batch_in_epoch = batch_in_epoch;
      model_->set_dropout_rng(dropout);
      step.abandoned = true;
      return step;
    }
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
      step.loss += loss.item() / double(config_.accumulation);
      if (config_.accumulation > 1) loss = mul_scalar(loss, 1.0 / double(config_.accumulation));
      loss.backward();
    }
    s.tokens_since += framing_->tokens_read(train_, batch);
  }
  comm_.sum(std::span<double>(&step.loss, 1));
  if (!std::isfinite(step.loss))
    throw std::runtime_error(fmt::format(
        "step {}: the loss is {}; training stopped without saving this state. The last good "
        "checkpoint is {} (if one was saved). Try a lower --lr (now {}) or a tighter --clip "
        "(now {}).",
        state_.step + 1, step.loss, checkpoint_path(), config_.lr, config_.clip));
  reduce_gradients();
  step.grad_norm = clip_grad_norm(optimizer_->params(), config_.clip);
  if (!std::isfinite(step.grad_norm))
    throw std::runtime_error(fmt::format(
        "step {}: the gradient norm is {}; training stopped without saving this state. The last "
        "good checkpoint is {}. Try a lower --lr (now {}).",
        state_.step + 1, step.grad_norm, checkpoint_path(), config_.lr));
  step.lr = schedule_lr(config_.schedule, config_.lr, state_.step + 1, config_.warmup,
                        config_.steps, config_.min_lr_ratio);
  optimizer_->step(step.lr);
  optimizer_->zero_grad();
  ++state_.step;
  if (state_.step == s.first_step + 1) s.result.first_loss = step.loss;
  s.result.last_loss = step.loss;
  return step;
}

void Trainer::report_step(Session& s, const StepOutcome& step, double now) {
  const double tokens_per_s = double(s.tokens_since) / std::max(now - s.window_start, 1e-9);
  const double eta = now / double(state_.step - s.first_step) * double(config_.steps - state_.step);
  s.progress.update(
      ProgressLine{state_.step, config_.steps, step.loss, step.lr, tokens_per_s, now, eta});
  if (state_.step % config_.log_every == 0 || state_.step == config_.steps) {
    log_json(metrics_line({state_.step, step.loss, step.lr, step.grad_norm, tokens_per_s, now,
                           comm_.size(), wait_seconds_, allreduce_seconds_}));
    s.tokens_since = 0;
    s.window_start = now;
  }
}

void Trainer::evaluate_and_decide(Session& s, bool last) {
  const double eval_start = s.elapsed();
  EvalMetrics m = evaluate_held_out();
  const bool best = record_evaluation(m);
  s.budget.eval_seconds = s.elapsed() - eval_start;
  s.progress.message(fmt::format("step {} held-out ({} {}): {}{}", state_.step, m.examples,
                                 m.language_model
                                     ? fmt::format("blocks of {} tokens", framing_->block_size())
                                     : std::string("examples"),
                                 m.summary(), best ? "  (best so far: best.h5)" : ""));
  log_json(held_out_line(state_.step, m, s.elapsed()));
  if (m.language_model && comm_.is_root())
    if (const std::string text = sample_text(); !text.empty())
      s.progress.message("  sample: " + text);
  s.result.final_metrics = m;
  if (config_.early_stop > 0 && !last && state_.evals_without_improvement >= config_.early_stop) {
    s.progress.message(fmt::format(
        "early stop: held-out {} has not improved for {} evaluations (best {:.4f} at step {})",
        metric_name(config_.select_metric), state_.evals_without_improvement, state_.best_metric,
        state_.best_step));
    s.result.early_stopped = true;
  }
  if (comm_.distributed()) {  // rank 0's decision, not each rank's reading of the sums
    std::array<int64_t, 1> stop{int64_t(s.result.early_stopped)};
    comm_.broadcast(stop);
    s.result.early_stopped = stop[0] != 0;
  }
  if (s.budget.active() && !last) fit_to_budget(s, s.elapsed());
}

void Trainer::log_attention(Session& s) {
  if (!comm_.is_root()) return;
  const double start = s.elapsed();
  const AttentionStatistics stats =
      attention_statistics(*framing_, data_.dataset.valid, size_t(config_.trace_examples));
  if (stats.examples > 0) log_json(attention_line(state_.step, stats, s.elapsed()));
  // Counted in the time budget: at each evaluation with it, else on its own.
  if (config_.trace_every > 0) {
    s.budget.trace_seconds = s.elapsed() - start;
    s.budget.trace_every = config_.trace_every;
  } else {
    s.budget.eval_seconds += s.elapsed() - start;
  }
}

void Trainer::stop_for_signal(Session& s, int signal) {
  s.progress.finish();
  // Saved first: after a hang-up even printing can fail. Said even with
  // --quiet: whoever sent the signal wants to know it was heeded.
  save(fmt::format("stopped by {}; continue with --resume", StopSignals::name(signal)));
  if (comm_.is_root())
    emit(stderr, fmt::format("attnlab train: stopped by {} at step {}; saved {}, continue with "
                             "--resume\n",
                             StopSignals::name(signal), state_.step, checkpoint_path()));
  s.result.interrupted = true;
  s.result.stop_signal = signal;
}

void Trainer::finish_run(Session& s) {
  TrainResult& result = s.result;
  if (!result.interrupted)
    save(result.early_stopped ? "early stop"
         : state_.step == config_.steps
             ? (result.out_of_time ? "final, the time budget is spent" : "final")
             : "stopped early");
  result.steps = state_.step;
  result.best_metric = state_.best_metric;
  result.best_step = state_.best_step;
  result.seconds = s.elapsed();
  result.checkpoint = checkpoint_path();
}

void Trainer::show_predictions(const TrainResult& result) const {
  if (options_.quiet || options_.show_predictions <= 0 || result.interrupted) return;
  // A language model's samples were shown as it ran: it has only the summary.
  if (!framing_->streams_blocks()) {
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
  }
  fmt::print("\ntrained {} steps in {:.1f} s; held-out {}\n", result.steps, result.seconds,
             result.final_metrics.summary());
  if (state_.best_step >= 0)
    fmt::print("best held-out {} {:.4f} at step {}: {} (the last state is {})\n",
               metric_name(config_.select_metric), state_.best_metric, state_.best_step,
               dir_->best(), checkpoint_path());
}

}  // namespace attnlab
