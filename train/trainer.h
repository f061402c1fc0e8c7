// The training loop behind `attnlab train`: data, model, optimizer,
// evaluation, progress, metrics log and checkpoints, in one object. Its
// construction, resuming, saving and the ranks' plumbing are in
// train/trainer.cpp; run() and its steps in train/training_loop.cpp.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "autograd/kernels/gemm.h"
#include "data/example.h"
#include "data/tokenizer.h"
#include "dist/communicator.h"
#include "framing/framing.h"
#include "framing/metrics.h"
#include "train/checkpoint.h"
#include "train/prepare_data.h"
#include "train/run_dir.h"
#include "train/train_config.h"

namespace attnlab {

struct TrainerOptions {
  bool resume = false;        // continue from <out>/checkpoint.h5 with its stored settings
  bool overwrite = false;     // replace a previous run's files in <out> instead of refusing
  int64_t resume_steps = 0;   // with resume: a new total step count (0 = the stored one)
  double resume_minutes = 0;  // with resume: a new time budget (0 = none: the stored steps)
  int64_t stop_at = 0;  // stop (and save) after this step, to resume later (0 = run to the end)
  bool quiet = false;   // no progress output (tests)
  int show_predictions = 5;  // held-out examples shown at the end
};

struct TrainResult {
  int64_t steps = 0;
  double first_loss = 0, last_loss = 0;
  EvalMetrics final_metrics;
  double seconds = 0;
  bool interrupted = false;    // a stop signal ended the run (it saved first)
  int stop_signal = 0;         // which one (SIGINT, SIGTERM, SIGHUP)
  bool early_stopped = false;  // --early-stop ended the run
  bool out_of_time = false;    // --minutes ended the run
  double best_metric = 0;      // the selection metric's best held-out value ...
  int64_t best_step = -1;      // ... and its step (-1: no evaluation)
  std::string checkpoint;
};

class Trainer {
 public:
  Trainer(TrainConfig config, TrainerOptions options);
  ~Trainer();
  TrainResult run();

  const Model& model() const { return *model_; }
  Model& model() { return *model_; }
  // What the run trains on and how (for inspecting a run, e.g. in tests).
  const Framing& framing() const { return *framing_; }
  std::span<const data::EncodedExample> train_examples() const { return train_; }
  std::string checkpoint_path() const;

 private:
  // ---- run() and its steps (train/training_loop.cpp) ------------------------------
  // What one call to run() keeps between its steps: the result so far, the
  // clock, the progress line, the time budget and the throughput window.
  struct Session;
  // The model's gradients and loss after one optimizer step's micro-batches.
  struct StepOutcome {
    double loss = 0, lr = 0, grad_norm = 0;
    // A stop signal came between micro-batches: the step was given up and
    // the run is as it was after the last completed step.
    bool abandoned = false;
  };
  void print_banner() const;
  // Sets up the time budget (--minutes): until its first fit the step count is
  // provisional, and warmup keeps its share of the steps.
  void start_time_budget(Session& s);
  void fit_to_budget(Session& s, double now);
  // Times the step just taken; refits the budget now and then, and makes this
  // step the last when the next would not fit.
  void keep_time_budget(Session& s, double step_start, double now);
  // The ranks act as one: rank 0's step count, warmup and out-of-time flag
  // win, and a signal any rank received counts for all. Returns the signal.
  int agree_with_root(Session& s);
  // Each rank's own dropout stream, a function of (seed, step, rank).
  void seed_dropout_for_rank();
  // Forward and backward over `accumulation` micro-batches, the gradients
  // combined across ranks, clipped and applied. Throws on a non-finite loss
  // or gradient norm, naming the step and the last good checkpoint.
  StepOutcome train_step(Session& s);
  void report_step(Session& s, const StepOutcome& step, double now);
  // The held-out evaluation at `last` or every eval_every steps: logged,
  // best.h5 kept, early stop decided (rank 0's decision on every rank).
  void evaluate_and_decide(Session& s, bool last);
  // train --trace-every: every head's attention statistics on the first
  // held-out examples, logged to metrics.jsonl (rank 0).
  void log_attention(Session& s);
  void stop_for_signal(Session& s, int signal);
  // The final save and the result's fields.
  void finish_run(Session& s);
  // A few held-out examples with their predictions, and the run's summary.
  void show_predictions(const TrainResult& result) const;

  // ---- data, resuming, saving and ranks (train/trainer.cpp) -------------------------
  // The global batch of the next step, in the seeded order (every rank draws the same).
  std::vector<size_t> next_batch();
  // This rank's contiguous part of n rows, as (first, count): counts differ by
  // at most one, and fewer rows than ranks leave some ranks none.
  std::pair<size_t, size_t> my_part(size_t n) const;
  // This rank's part of a global batch.
  std::span<const size_t> my_rows(const std::vector<size_t>& batch) const;
  std::string sample_text() const;
  // The one place gradients are combined before the optimizer sees them:
  // a no-op on one process; across ranks, one all-reduce (sum) over a flat
  // buffer of every gradient.
  void reduce_gradients();
  // Where this rank reads the checkpoint it resumes: rank 0 reads the run's
  // own; the other ranks get its bytes in a local copy, so that ranks on other
  // machines need no shared filesystem.
  std::string checkpoint_to_resume();
  // Held-out metrics; on several ranks each evaluates its part and the parts' tallies add up.
  EvalMetrics evaluate_held_out() const;
  // Refuses to train when the ranks built different data or models.
  void check_ranks_agree() const;
  // Refuses, with the figures and the options to change, a run whose step
  // would not fit in the memory this process may use (train/memory_limit.h).
  void check_memory() const;
  // Writes `path` atomically; a failure names `what` and the path, whose
  // previous file stays.
  void write_checkpoint(const std::string& path, const char* what, const Optimizer* optimizer);
  void save(const std::string& why);
  // Writes best.h5 (the model, without optimizer state) after an improvement.
  void save_best();
  // Compares an evaluation with the best so far; true if it is the new best.
  bool record_evaluation(const EvalMetrics& m);
  // Estimated bytes the run's saves need on disk (checkpoint and best model).
  int64_t save_bytes() const;
  // Resume: refuses a metrics.jsonl that names another run than the
  // checkpoint `resumed` (read from `checkpoint`), and returns the run id
  // to continue under.
  std::string check_log_belongs(const CheckpointInfo& resumed, const std::string& checkpoint);
  void open_metrics_log();
  void log_json(const std::string& line);
  CheckpointInfo checkpoint_info() const;

  TrainConfig config_;
  TrainerOptions options_;
  std::unique_ptr<RunDirectory> dir_;  // locked for the life of the trainer
  // The run's matrix-product precision, for the life of the trainer.
  std::unique_ptr<MatmulPrecisionScope> precision_;
  PreparedData data_;
  std::shared_ptr<Model> model_;
  std::unique_ptr<Framing> framing_;
  std::unique_ptr<Optimizer> optimizer_;
  std::vector<data::EncodedExample> train_, valid_;
  std::vector<size_t> train_lengths_;
  // This epoch's batches: listed (examples), or cut from one order of block
  // offsets (language models, whose epoch has a batch for every few tokens).
  std::vector<std::vector<size_t>> epoch_batches_;
  std::vector<uint32_t> epoch_blocks_;
  uint64_t planned_epoch_ = UINT64_MAX;
  TrainingState state_;
  std::string run_id_;  // CheckpointInfo::run_id, kept by every file this run writes
  // A last metrics.jsonl line cut off by a crash (its line number, 0 if
  // none, and its text), dropped when the resumed run opens the log.
  std::pair<size_t, std::string> resumed_log_torn_;
  std::optional<CheckpointInfo> resumed_best_;
  std::optional<InitReport> init_report_;  // --init-from: what came from the pretrained model  //
                                           // best.h5 of a resumed run, if there is one
  std::FILE* metrics_ = nullptr;
  const dist::Communicator& comm_ = dist::Communicator::world();
  std::vector<float> gradient_buffer_;  // the flat all-reduce buffer, reused every step
  // Seconds spent so far waiting for the other ranks to finish backward, and
  // in the gradient all-reduce itself (logged in metrics.jsonl).
  double wait_seconds_ = 0, allreduce_seconds_ = 0;
  // A rank's local copy of the checkpoint it resumes from; removed once read,
  // and also when construction fails.
  struct LocalCopy {
    std::string path;
    void remove();
    ~LocalCopy() { remove(); }
  } resume_copy_;
};

}  // namespace attnlab
