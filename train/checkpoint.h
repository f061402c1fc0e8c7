// Checkpoints: one HDF5 file with everything needed to predict, evaluate or
// resume training bit-for-bit. The layout is documented in docs/checkpoint.md:
//   /                   attributes format, format_version, run_id, checksum,
//                       optimizer_checksum, info_checksum
//   /model_config       attributes, one per ModelConfig field; dataset family
//   /train_config       attributes, one per TrainConfig field; dataset model
//   /data               datasets task_kind, vocab_kind, vocab/*, labels/*,
//                       subword_model (bpe and unigram: SentencePiece's model bytes)
//   /params/<path>      float32, e.g. params/decoder/layers/0/cross_attn/q_proj/weight
//   /optimizer          datasets kind, steps and <slot>/<path> per parameter
//   /state              datasets step, epoch, batch_in_epoch, dropout RNG, best metric
// Saving is atomic: the file is written beside the target and renamed over it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/example.h"
#include "data/tokenizer.h"
#include "models/model.h"
#include "optim/optim.h"
#include "train/train_config.h"

namespace attnlab {

class H5File;

inline constexpr const char* kCheckpointFormat = "attnlab-checkpoint";
// 5: the parameter checksum starts with the format version; a run_id names the run.
// 4: an info_checksum covers everything else: settings, vocabulary, labels, training state.
// 3: an optimizer_checksum covers the optimizer state, as checksum covers the parameters.
// 2: the parameter checksum walks parameters sorted by path (1: registration order).
inline constexpr int kCheckpointVersion = 5;

// Where a run is: enough to continue exactly where it stopped.
struct TrainingState {
  int64_t step = 0;             // optimizer steps completed
  uint64_t epoch = 0;           // data epoch in progress
  uint64_t batch_in_epoch = 0;  // next batch of that epoch
  Generator dropout_rng;        // the model's dropout stream
  // Model selection (TrainConfig::select_metric): the best held-out value so
  // far and its step (-1: no evaluation yet), and how many evaluations since
  // then have not beaten it (for --early-stop).
  double best_metric = -1;
  int64_t best_step = -1;
  int64_t evals_without_improvement = 0;
};

// The non-tensor content of a checkpoint.
struct CheckpointInfo {
  ModelConfig model;
  TrainConfig train;
  data::TaskKind task_kind = data::TaskKind::Translation;
  std::string vocab_kind;
  std::vector<std::string> vocab_tokens;
  // A subword vocabulary's SentencePiece model (data/subword_model); empty for char and word.
  std::string subword_model;
  std::vector<std::string> labels;
  TrainingState state;
  // Drawn when a run starts and kept by every file it writes, so that two
  // runs with identical settings are still told apart. Empty in files from
  // before format 5.
  std::string run_id;
};

// Throws InputError naming both files unless the checkpoints `a` (read from
// `a_path`) and `b` are of one run: the same model configuration, task,
// tokenizer, vocabulary and labels, and the same run id where both have
// one. A run directory's checkpoint.h5 and
// best.h5 must be; a checkpoint copied in from another run is not.
void check_same_run(const CheckpointInfo& a, const std::string& a_path, const CheckpointInfo& b,
                    const std::string& b_path);

// A fresh run id: 16 lowercase hex digits, drawn from the system's entropy.
std::string new_run_id();
bool is_run_id(const std::string& text);

// Writes `path` atomically (temporary file + rename); the previous file at
// `path` stays intact if anything fails or the process dies mid-write.
void save_checkpoint(const std::string& path, const CheckpointInfo& info, const Model& model,
                     const Optimizer* optimizer);

// Reads and validates the non-tensor content. Throws std::runtime_error
// naming the file and what is wrong (not a checkpoint, wrong version,
// corrupted, truncated, bad config).
CheckpointInfo read_checkpoint_info(const std::string& path);
// The vocabulary a checkpoint stores (its tokens, and a subword one's model).
data::Vocab stored_vocab(const CheckpointInfo& info);

// Copies every parameter into `model`, checking that the names and shapes are
// exactly the model's and that the stored checksum matches.
void load_parameters(const std::string& path, Model& model);
void load_optimizer_state(const std::string& path, Optimizer& optimizer);

// A fine-tuning run's start from a pretrained checkpoint: every parameter of
// `model` stored at `path` under the same path and shape is copied in
// exactly; the others keep their fresh initialisation (a new head). The
// stored parameters' checksum is checked first. Throws InputError naming the
// file when it is damaged, of format 1 (resave it), or shares no parameter
// with the model.
struct InitReport {
  std::vector<std::string> loaded;  // parameter paths copied from the file
  std::vector<std::string> fresh;   // the model's parameters the file did not have (or shaped so)
  std::vector<std::string> unused;  // the file's parameters the model has no place for
};
InitReport load_matching_parameters(const std::string& path, Model& model);

// The checksum that format 4 stores as the root attribute info_checksum:
// FNV-1a over what a checkpoint holds besides its tensors, as
// docs/checkpoint.md spells it. HDF5 checksums neither raw data nor the
// global heap where strings live.
uint64_t checkpoint_info_checksum(const H5File& f);

// Stores checkpoint_info_checksum(f) as the root attribute info_checksum.
// Public for tools that edit a checkpoint on purpose and seal it again (the
// fuzz targets); save_checkpoint seals every file it writes.
void seal_checkpoint_info(H5File& f);

}  // namespace attnlab
