#include "train/train_config.h"

#include "common/errors.h"
#include "models/model.h"

#include <fmt/format.h>

#include <cmath>

#include <algorithm>

#include <stdexcept>

namespace attnlab {
const FieldTable<TrainConfig>& train_config_fields() {
  using C = TrainConfig;
  static const FieldTable<C> table = [] {
    FieldTable<C> t("option");
    t.add("task", &C::task, "built-in task (see 'attnlab tasks')")
        .add("train_file", &C::train_file,
             "your own training data: TSV, source<TAB>target or label<TAB>text")
        .add("valid_file", &C::valid_file, "held-out TSV (default: the last 10% of --train-file)")
        .add("task_kind", &C::task_kind, data::kTaskKindNames,
             "your data: translation or classification (TSV), lm (a plain text file)")
        .add("tokenizer", &C::tokenizer, kTokenizerChoiceNames,
             "char: one token per Unicode character; word: split on whitespace; bpe, unigram: "
             "subwords a SentencePiece model learns from the training text; auto: word for your "
             "own classification texts of 3 or more words on average, else char")
        .add("vocab_size", &C::vocab_size,
             "--tokenizer bpe or unigram: the pieces it learns, special tokens included")
        .add("train_size", &C::train_size, "built-in tasks: training examples to generate")
        .add("block_size", &C::block_size,
             "language models (--task-kind lm): tokens of context per row; sets max_len")
        .add("valid_size", &C::valid_size, "built-in tasks: held-out examples to generate")
        .add("data_seed", &C::data_seed, "built-in tasks: seed of the generated examples")
        .add("model", &C::model, kFamilyNames, "architecture family")
        .add("steps", &C::steps, "optimizer steps")
        .add("batch_size", &C::batch_size, "examples per micro-batch")
        .add("accumulation", &C::accumulation,
             "micro-batches per optimizer step (gradient accumulation)")
        .add("lr", &C::lr, "peak learning rate")
        .add("optimizer", &C::optimizer, kOptimizerNames, "sgd has momentum 0.9")
        .add("schedule", &C::schedule, kScheduleNames,
             "cosine: linear warmup + cosine decay; noam: inverse square root")
        .add("warmup", &C::warmup, "linear warmup steps")
        .add("min_lr_ratio", &C::min_lr_ratio, "cosine floor as a fraction of --lr")
        .add("weight_decay", &C::weight_decay,
             "weight decay (not applied to biases, norms, embeddings)")
        .add("clip", &C::clip, "global gradient-norm clipping threshold (0 = off)")
        .add("label_smoothing", &C::label_smoothing, "label smoothing of the cross-entropy")
        .add("mlm_weight", &C::mlm_weight,
             "bert: weight of an auxiliary masked-LM loss on the training texts (0 = off)")
        .add("seed", &C::seed, "seed of initialisation, dropout and batch order")
        .add("select_metric", &C::select_metric, kSelectMetricNames,
             "held-out metric that picks best.h5; auto: exact_match for translation, accuracy "
             "for classification")
        .add("early_stop", &C::early_stop,
             "stop after this many held-out evaluations without improvement (0 = off)")
        .add("minutes", &C::minutes,
             "wall-clock budget: the step count, warmup and schedule are fitted to it, and the "
             "run ends with a final evaluation and save (0 = off; replaces --steps)")
        .add("eval_every", &C::eval_every,
             "steps between held-out evaluations (0 = only at the end)")
        .add("eval_examples", &C::eval_examples, "held-out examples per evaluation (0 = all)")
        .add("trace_every", &C::trace_every,
             "steps between every head's attention statistics (entropy, distance, special-token "
             "share, monotonicity) in metrics.jsonl, for plot --trace (0 = off; -1 = at each "
             "held-out evaluation)")
        .add("trace_examples", &C::trace_examples,
             "held-out examples the attention statistics are taken over")
        .add("log_every", &C::log_every,
             "steps between progress lines when output is not a terminal")
        .add("save_every", &C::save_every, "steps between checkpoints (0 = only at the end)")
        .add("precision", &C::precision, kMatmulPrecisionNames,
             "matrix products: float32, or bf16 (inputs rounded to bfloat16, sums in float32: "
             "about twice the multiply-adds per instruction on CPUs with AVX-512 BF16); weights, "
             "optimizer state, norms, softmax, loss and checkpoints stay float32")
        .add("out", &C::out, "run directory: checkpoint.h5 and metrics.jsonl go here")
        .add("init_from", &C::init_from,
             "a pretrained checkpoint to start from: its parameters where this model has the same "
             "ones (a new head is initialised) and its vocabulary");
    return t;
  }();
  return table;
}

void validate(const TrainConfig& c, const std::string& stored_in) {
  // Named as the user wrote it: the option (--batch-size), or the field of
  // the checkpoint the value was read from.
  auto require = [&](bool ok, const char* key, const std::string& why) {
    if (ok) return;
    std::string option = key;
    std::replace(option.begin(), option.end(), '_', '-');
    if (stored_in.empty()) throw std::invalid_argument(fmt::format("--{}: {}", option, why));
    throw std::invalid_argument(
        fmt::format("{}: stored train_config '{}': {}", stored_in, key, why));
  };
  const auto finite = [](double v) { return std::isfinite(v); };
  require(!c.task.empty() || !c.train_file.empty(), "task",
          "give a built-in --task or a --train-file");
  require(c.task.empty() || c.train_file.empty(), "task",
          "give either --task or --train-file, not both");
  require(c.train_size > 0 && c.train_size <= kMaxGeneratedExamples, "train_size",
          fmt::format("must be in [1, {}], got {}", kMaxGeneratedExamples, c.train_size));
  require(c.valid_size > 0 && c.valid_size <= kMaxGeneratedExamples, "valid_size",
          fmt::format("must be in [1, {}], got {}", kMaxGeneratedExamples, c.valid_size));
  require(c.steps > 0, "steps", fmt::format("must be positive, got {}", c.steps));
  require(c.batch_size > 0 && c.batch_size <= kMaxBatchSize, "batch_size",
          fmt::format("must be in [1, {}], got {}", kMaxBatchSize, c.batch_size));
  require(c.accumulation > 0 && c.accumulation <= kMaxBatchSize, "accumulation",
          fmt::format("must be in [1, {}], got {}", kMaxBatchSize, c.accumulation));
  require(c.lr > 0 && c.lr < 10, "lr", fmt::format("must be in (0, 10), got {}", c.lr));
  require(c.warmup >= 0, "warmup", fmt::format("must be >= 0, got {}", c.warmup));
  require(c.min_lr_ratio >= 0 && c.min_lr_ratio <= 1, "min_lr_ratio",
          fmt::format("must be in [0, 1], got {}", c.min_lr_ratio));
  require(c.weight_decay >= 0 && finite(c.weight_decay), "weight_decay",
          fmt::format("must be >= 0 and finite, got {}", c.weight_decay));
  require(c.clip >= 0 && finite(c.clip), "clip",
          fmt::format("must be >= 0 and finite (0 turns clipping off), got {}", c.clip));
  require(c.label_smoothing >= 0 && c.label_smoothing < 1, "label_smoothing",
          fmt::format("must be in [0, 1), got {}", c.label_smoothing));
  require(c.mlm_weight >= 0 && finite(c.mlm_weight), "mlm_weight",
          fmt::format("must be >= 0 and finite, got {}", c.mlm_weight));
  require(c.mlm_weight == 0 || c.model == Family::BERT, "mlm_weight",
          fmt::format("the masked-LM loss needs a BERT model (--model bert), not {}",
                      family_name(c.model)));
  require(c.early_stop >= 0, "early_stop", fmt::format("must be >= 0, got {}", c.early_stop));
  require(c.early_stop == 0 || c.eval_every > 0, "early_stop",
          "needs held-out evaluations during the run (--eval-every N)");
  require(c.minutes >= 0 && c.minutes <= 1e6, "minutes",
          fmt::format("must be in [0, 1e6], got {}", c.minutes));
  require(c.eval_every >= 0, "eval_every",
          fmt::format("must be >= 0 (0 = only at the end), got {}", c.eval_every));
  require(c.eval_examples >= 0, "eval_examples",
          fmt::format("must be >= 0 (0 = all), got {}", c.eval_examples));
  require(c.log_every > 0, "log_every", fmt::format("must be positive, got {}", c.log_every));
  require(c.trace_every >= -1, "trace_every",
          fmt::format("must be >= 0 (0 = off) or -1 (at each evaluation), got {}", c.trace_every));
  require(c.trace_examples > 0, "trace_examples",
          fmt::format("must be positive, got {}", c.trace_examples));
  require(c.save_every >= 0, "save_every",
          fmt::format("must be >= 0 (0 = only at the end), got {}", c.save_every));
  require(!c.out.empty(), "out", "must name a directory");
  require(c.vocab_size >= 16 && c.vocab_size <= kMaxVocabSize, "vocab_size",
          fmt::format("must be in [16, {}], got {}", kMaxVocabSize, c.vocab_size));
  require(c.vocab_size == kDefaultSubwordVocab || is_subword(c.tokenizer), "vocab_size",
          "sets the size of a subword tokenizer: give --tokenizer bpe or unigram (char and word "
          "vocabularies hold what the text has)");
  require(c.block_size >= 2 && c.block_size <= 65536, "block_size",
          fmt::format("must be in [2, 65536], got {}", c.block_size));
}

namespace {

struct Recipe {
  Family model;
  const char* task;
  const char* note;
  std::map<std::string, std::string> train;  // TrainConfig fields
  std::map<std::string, std::string> model_overrides;
};

const std::vector<Recipe>& recipes() {
  static const std::vector<Recipe> all = {
      {Family::T5,
       "dates",
       "encoder-decoder translation of date formats",
       {{"steps", "1500"}, {"batch_size", "64"}, {"lr", "2e-3"}, {"warmup", "200"}},
       {{"d_model", "128"},
        {"n_heads", "4"},
        {"d_ff", "256"},
        {"n_layers", "2"},
        {"n_decoder_layers", "2"},
        {"dropout", "0.0"},
        {"max_len", "48"}}},
      {Family::GPT,
       "dates",
       "decoder-only seq2seq on the same task",
       {{"steps", "1500"}, {"batch_size", "64"}, {"lr", "2e-3"}, {"warmup", "200"}},
       {{"d_model", "128"},
        {"n_heads", "4"},
        {"d_ff", "256"},
        {"n_layers", "3"},
        {"dropout", "0.0"},
        {"max_len", "64"}}},
      {Family::T5,
       "numbers",
       "digits to English words",
       // 3000 steps took 414 s on one machine and 757 s on a busier one: 2000 steps (exact match
       // 96.5%) keep the run inside ten minutes; greedy-decoding evaluations are costly, so
       // every 1000 steps.
       {{"steps", "2000"},
        {"batch_size", "64"},
        {"lr", "2e-3"},
        {"warmup", "200"},
        {"eval_every", "1000"}},
       {{"d_model", "128"},
        {"n_heads", "4"},
        {"d_ff", "256"},
        {"n_layers", "2"},
        {"n_decoder_layers", "2"},
        {"dropout", "0.0"},
        {"max_len", "80"}}},
      // Label-only training plateaus near 70-80%: one bit per string is too little signal to
      // find bracket matching in minutes. The auxiliary masked-LM loss (filling in a hidden
      // closer means finding its opener) gets 99%. Post-norm (the BERT preset) collapsed to
      // chance at these learning rates; relative positions let a head look left or right.
      {Family::BERT,
       "brackets",
       "is a bracket string balanced (with an auxiliary masked-LM loss)",
       {{"steps", "3000"},
        {"batch_size", "64"},
        {"lr", "2e-3"},
        {"warmup", "300"},
        {"train_size", "200000"},
        {"mlm_weight", "1"}},
       {{"d_model", "64"},
        {"n_heads", "4"},
        {"d_ff", "256"},
        {"n_layers", "4"},
        {"dropout", "0.0"},
        {"placement", "pre"},
        {"positions", "relative"},
        {"activation", "relu"},
        {"max_len", "32"}}},
      {Family::BERT,
       "sentiment",
       "negation-aware sentiment of templated sentences (word tokens)",
       {{"steps", "1500"},
        {"batch_size", "64"},
        {"lr", "1e-3"},
        {"warmup", "200"},
        {"tokenizer", "word"}},
       {{"d_model", "64"},
        {"n_heads", "4"},
        {"d_ff", "256"},
        {"n_layers", "2"},
        {"dropout", "0.1"},
        {"max_len", "32"}}},
  };
  return all;
}

}  // namespace

TrainConfig recipe(Family model, const std::string& task, data::TaskKind kind) {
  TrainConfig c;
  c.model = model;
  c.task = task;
  for (const Recipe& r : recipes()) {
    if (model != r.model || task != r.task) continue;
    for (const auto& [k, v] : r.train) train_config_fields().set(c, k, v);
    c.model_overrides = r.model_overrides;
  }
  if (c.model_overrides.empty()) {  // generic defaults for pairs without a tuned recipe
    c.model_overrides = {{"d_model", "128"}, {"n_heads", "4"},          {"d_ff", "256"},
                         {"n_layers", "2"},  {"n_decoder_layers", "2"}, {"dropout", "0.0"},
                         {"max_len", "96"}};
    if (task.empty()) {
      // Your own data, measured on small real-world sets (docs/real-data.md):
      // without dropout and with weak weight decay the model overfits within
      // a few epochs, and evaluations 500 steps apart miss the best model,
      // which best.h5 keeps.
      c.model_overrides["dropout"] = "0.1";
      c.weight_decay = 0.1;
      c.eval_every = 250;
      if (kind == data::TaskKind::LanguageModel) {
        // Measured on Debian's changelogs with a 4-minute budget
        // (docs/real-data.md): lr 3e-3 against 1e-3 took 2.56 to 2.27 bits
        // per character, and batch 32 against 64 (twice the steps in the
        // same time) to 2.18. A small model learns more from more updates.
        c.lr = 3e-3;
        c.batch_size = 32;
      }
    }
  }
  return c;
}

std::vector<RecipeInfo> list_recipes() {
  std::vector<RecipeInfo> out;
  for (const Recipe& r : recipes()) out.push_back({r.model, r.task, r.note});
  return out;
}

ModelConfig model_config_for(const TrainConfig& c, int64_t vocab_size, int64_t num_classes) {
  ModelConfig m = preset(c.model);
  for (const auto& [k, v] : c.model_overrides) set_config_field(m, k, v);
  if (c.mlm_weight > 0) m.mlm_head = true;  // the auxiliary loss needs the prediction head
  // A language model's context is its block: rows are block_size tokens.
  if (c.task_kind == data::TaskKind::LanguageModel) {
    m.max_len = c.block_size;
    if (text_objective(c.model) == TextObjective::MaskedLM) m.mlm_head = true;
  }
  m.vocab_size = vocab_size;
  m.num_classes = std::max<int64_t>(num_classes, 1);
  m.seed = c.seed;
  validate(m);
  return m;
}

ModelConfig model_config_from(const ModelConfig& pretrained, const std::string& path,
                              const TrainConfig& c, int64_t num_classes) {
  if (pretrained.family != c.model)
    throw InputError(
        fmt::format("--init-from {}: it holds a {} model; --model {} cannot start from it", path,
                    family_name(pretrained.family), family_name(c.model)));
  ModelConfig m = pretrained;
  const auto stored = config_to_map(pretrained);
  for (const auto& [key, value] : c.model_overrides) {
    if (key == "dropout") {
      set_config_field(m, key, value);
      continue;
    }
    if (stored.count(key) && stored.at(key) != value)
      throw InputError(fmt::format(
          "--init-from {}: its {} is {}, and this run asks for {}; a run starting from a "
          "pretrained model keeps its shape (leave the option out)",
          path, key, stored.at(key), value));
  }
  if (c.task_kind == data::TaskKind::LanguageModel && c.block_size != pretrained.max_len)
    throw InputError(fmt::format(
        "--init-from {}: its context is {} tokens; give --block-size {} to go on learning text "
        "with it",
        path, pretrained.max_len, pretrained.max_len));
  m.num_classes = std::max<int64_t>(num_classes, 1);
  m.mlm_head = c.mlm_weight > 0 || (c.task_kind == data::TaskKind::LanguageModel &&
                                    text_objective(c.model) == TextObjective::MaskedLM);
  m.seed = c.seed;  // the new head's initialisation
  validate(m);
  return m;
}

}  // namespace attnlab
