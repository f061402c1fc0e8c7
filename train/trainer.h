// The training loop behind `attnlab train`: data, model, optimizer,
// evaluation, progress, metrics log and checkpoints, in one object.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "data/example.h"
#include "data/tokenizer.h"
#include "dist/communicator.h"
#include "framing/framing.h"
#include "framing/metrics.h"
#include "train/checkpoint.h"
#include "train/run_dir.h"
#include "train/train_config.h"

namespace attnlab {

// A dataset with the vocabulary built from its training split.
struct PreparedData {
  data::Dataset dataset;
  std::shared_ptr<data::Vocab> vocab;
};

// Generates the built-in task or reads the TSV files of `config`; the
// vocabulary comes from the training texts (sources and targets).
PreparedData prepare_data(const TrainConfig& config);

// The tokenizer a run uses. Auto means char, except for your own
// classification data whose texts have 3 or more words on average: there
// words carry the meaning, and word tokens beat characters (docs/real-data.md).
data::TokenizerKind resolve_tokenizer(TokenizerChoice choice, const data::Dataset& dataset,
                                      bool built_in_task);

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
  void open_metrics_log();
  void log_json(const std::string& line);
  CheckpointInfo checkpoint_info() const;

  TrainConfig config_;
  TrainerOptions options_;
  std::unique_ptr<RunDirectory> dir_;  // locked for the life of the trainer
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
