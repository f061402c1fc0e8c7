// Everything `attnlab train` can be told, as one struct whose fields also
// have text names: the command line (--batch-size), INI files (batch_size =)
// and checkpoints all use the same table, so a value set one way reads back
// the same way everywhere.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "autograd/kernels/gemm.h"
#include "common/enum_names.h"
#include "data/example.h"
#include "data/tokenizer.h"
#include "framing/metrics.h"
#include "models/config.h"
#include "optim/optim.h"

namespace attnlab {

// --tokenizer: char, word, bpe or unigram, or auto, which picks char or word by the data (see
// resolve_tokenizer in train/prepare_data.h).
enum class TokenizerChoice { Auto, Char, Word, Bpe, Unigram };
inline constexpr EnumName<TokenizerChoice> kTokenizerChoiceNames[] = {
    {TokenizerChoice::Auto, "auto"},
    {TokenizerChoice::Char, "char"},
    {TokenizerChoice::Word, "word"},
    {TokenizerChoice::Bpe, "bpe"},
    {TokenizerChoice::Unigram, "unigram"}};
inline bool is_subword(TokenizerChoice choice) {
  return choice == TokenizerChoice::Bpe || choice == TokenizerChoice::Unigram;
}
inline constexpr int64_t kDefaultSubwordVocab = 1000;

inline constexpr EnumName<MatmulPrecision> kMatmulPrecisionNames[] = {
    {MatmulPrecision::Float32, "float32"}, {MatmulPrecision::BFloat16, "bf16"}};

struct TrainConfig {
  // ---- data
  std::string task;        // built-in task name (see `attnlab tasks`), or ...
  std::string train_file;  // ... a TSV file of your own, with
  std::string valid_file;  //     an optional held-out TSV file
  data::TaskKind task_kind = data::TaskKind::Translation;  // set by built-in tasks themselves
  TokenizerChoice tokenizer = TokenizerChoice::Auto;
  int64_t vocab_size = kDefaultSubwordVocab;  // bpe and unigram: pieces the tokenizer learns
  int64_t train_size = 20000;                 // built-in tasks: training examples generated
  int64_t valid_size = 1000;                  // built-in tasks: held-out examples generated
  int64_t block_size = 128;   // language models: tokens of context per row (the model's max_len)
  uint64_t data_seed = 1234;  // built-in tasks: which examples are generated

  // ---- model
  Family model = Family::T5;
  // Model config overrides, key=value in models/config.h names (d_model, n_layers, norm, ...).
  std::map<std::string, std::string> model_overrides;

  // ---- optimisation
  int64_t steps = 3000;
  int64_t batch_size = 64;
  int64_t accumulation = 1;  // micro-batches per optimizer step
  double lr = 1e-3;          // peak learning rate
  OptimizerKind optimizer = OptimizerKind::AdamW;
  ScheduleKind schedule = ScheduleKind::WarmupCosine;
  int64_t warmup = 200;
  double min_lr_ratio = 0.05;  // cosine floor, as a fraction of lr
  double weight_decay = 0.01;
  double clip = 1.0;  // global gradient norm cap (0 = off)
  double label_smoothing = 0.0;
  // BERT only: weight of an auxiliary masked-LM loss on the training texts (0 = off). Each step
  // also encodes a copy of the batch with 15% of its tokens hidden and adds this much of the loss
  // of predicting them; it costs a second forward and backward pass.
  double mlm_weight = 0.0;
  uint64_t seed = 1;  // initialisation, dropout and batch order

  // ---- model selection and budget
  SelectMetric select_metric = SelectMetric::Auto;  // auto: exact match or accuracy
  int64_t early_stop = 0;  // stop after this many evaluations without improvement (0 = off)
  double minutes = 0;      // wall-clock budget; the step count is fitted to it (0 = off)

  // ---- run
  int64_t eval_every = 500;     // steps between held-out evaluations (0 = only at the end)
  int64_t eval_examples = 500;  // held-out examples per evaluation (0 = all)
  int64_t log_every = 50;       // steps between progress lines when not on a terminal
  // Steps between attention statistics logged to metrics.jsonl (0 = off;
  // -1 = at each held-out evaluation), on trace_examples held-out examples.
  int64_t trace_every = 0;
  int64_t trace_examples = 64;
  int64_t save_every = 500;  // steps between checkpoints (0 = only at the end)
  // Matrix products in float32, or with bfloat16 inputs and float32 sums
  // (autograd/kernels/gemm.h); everything else stays float32.
  MatmulPrecision precision = MatmulPrecision::Float32;
  std::string out = "runs/latest";  // directory for checkpoint.h5 and metrics.jsonl
  // A pretrained checkpoint whose body (and vocabulary) the run starts from.
  std::string init_from;
};

// The fields by name ("batch_size"), with their help lines: the command line
// (--batch-size), INI files and checkpoints all use this table.
const FieldTable<TrainConfig>& train_config_fields();
// Throws std::invalid_argument naming the option for inconsistent values; for
// a config read from a checkpoint (`stored_in` names the file), naming the
// stored field instead.
void validate(const TrainConfig& config, const std::string& stored_in = {});

// Bounds that keep a typo from allocating the machine away: examples a
// built-in task generates per split, and sequences per batch.
inline constexpr int64_t kMaxGeneratedExamples = int64_t(1) << 24;
inline constexpr int64_t kMaxBatchSize = int64_t(1) << 16;

// The tuned defaults for a (model, task) pair: start from these, then apply
// what the user set. Unknown pairs get generic defaults; for the user's own
// data (no task), those depend on its kind: a language model has its own.
TrainConfig recipe(Family model, const std::string& task,
                   data::TaskKind kind = data::TaskKind::Translation);

struct RecipeInfo {
  Family model;
  std::string task, note;
};
// The pairs with a tuned recipe, for `attnlab tasks` and the README.
std::vector<RecipeInfo> list_recipes();

// The model config a run uses: the family preset, the recipe's and the
// user's overrides, and the vocabulary and label counts from the data.
ModelConfig model_config_for(const TrainConfig& config, int64_t vocab_size, int64_t num_classes);
// The model config of a run that starts from `pretrained`, the model config
// stored in the checkpoint `path` (--init-from): its shape, with this run's
// head (`num_classes`, a masked-LM head where the objective needs one) and
// dropout. Throws InputError naming the file and the setting when the run
// asks for another family or another shape.
ModelConfig model_config_from(const ModelConfig& pretrained, const std::string& path,
                              const TrainConfig& config, int64_t num_classes);

}  // namespace attnlab
