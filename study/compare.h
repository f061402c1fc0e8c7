// Comparing the families on one task: which family can do it and how,
// one training setup for all of them, the runs, what each run measured, and
// the table, results.jsonl and HTML report that summarise them. `attnlab
// compare` (cli/compare_command.cpp) parses options into a CompareSetup and
// calls these steps in order; tests call them on hand-made runs.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/enum_names.h"
#include "common/json.h"
#include "data/tasks.h"
#include "framing/attention_statistics.h"
#include "models/config.h"
#include "report/curves.h"
#include "report/table.h"
#include "study/sweep.h"
#include "train/trainer.h"

namespace attnlab::study {

// How the models are matched: the same d_model and depth for all; d_model
// adjusted so that each has about the parameters of the first; or the same
// training compute as the first (FLOPs per token x tokens), by the number
// of steps (flops) or by d_model at the same steps (flops-width).
enum class Match { Width, Params, Flops, FlopsWidth };
inline constexpr EnumName<Match> kMatchNames[] = {{Match::Width, "width"},
                                                  {Match::Params, "params"},
                                                  {Match::Flops, "flops"},
                                                  {Match::FlopsWidth, "flops-width"}};
// How the setup's runs are matched, for people: "same width and depth", ...
std::string match_text(Match match);

// What the user asked for, options parsed and checked.
// compare --finetune-on: after the comparison, each model is fine-tuned on a
// task of the user's, beside the same architecture trained on it from scratch.
struct FinetuneSetup {
  std::string train_file, valid_file;  // TSV
  data::TaskKind kind = data::TaskKind::Classification;
  int64_t steps = 0;  // per run
};

struct CompareSetup {
  std::string task;                    // a built-in task, or ...
  std::string train_file, valid_file;  // ... the user's data (TSV), whose kind is info.kind
  data::TaskInfo info;
  // What the runs learn, for titles: the task's name or the training file.
  const std::string& data_name() const { return task.empty() ? train_file : task; }
  std::string out;               // the directory of the runs and the report
  std::vector<Family> families;  // asked for, in order
  int64_t steps = 0;             // per run; 0: the --minutes budget instead
  double minutes = 0;            // per run, when steps == 0
  int64_t batch_size = 64;
  double lr = 1e-3;
  int64_t warmup = -1;     // -1: a fifth of the steps, at most 200
  int64_t eval_every = 0;  // 0: ten evaluations per run
  std::string tokenizer = "auto";
  int64_t vocab_size = kDefaultSubwordVocab;      // --tokenizer bpe or unigram
  int64_t block_size = TrainConfig{}.block_size;  // texts: tokens of context per row
  Match match = Match::Width;
  bool controlled = false;  // identical blocks: only the attention routing differs
  int64_t seeds = 1;        // runs per family
  uint64_t first_seed = 1;
  // The user's model options per family (--layers ...), applied over the
  // common size.
  std::map<Family, std::map<std::string, std::string>> model_options;
  std::optional<FinetuneSetup> finetune;
  // The list-valued options: every family runs every cell, with `seeds`
  // seeds each. Empty: the one setting above.
  std::vector<GridAxis> grid;
  // The setup of one cell: its values in place of the options above.
  CompareSetup in_cell(const GridCell& cell) const;
};

// ---- eligibility ---------------------------------------------------------------------
// Whether a family takes part in a task of `kind`, and how: `note` is empty
// when the family does the task natively, else says how it is adapted or
// why it is left out.
struct Eligibility {
  bool takes_part = true;
  std::string note;
};
Eligibility eligibility(Family family, data::TaskKind kind);

// ---- planning ------------------------------------------------------------------------
// The d_model (a multiple of the head count, d_ff keeping its ratio) whose
// parameter count is closest to `target`.
ModelConfig match_parameters(ModelConfig config, int64_t target);
// The same for any cost of the model that grows with its width.
ModelConfig closest_width(ModelConfig config, const std::function<double(const ModelConfig&)>& cost,
                          double target);

// Each run's budget, for people: "600 steps each", "steps 200, 400 (the
// grid)", "2 minutes each", or a grid's "30 minutes in all, ...".
std::string run_budget(const CompareSetup& setup);

// The training setup every run shares (task, budget, optimiser, evaluation).
TrainConfig shared_config(const CompareSetup& setup);

// What a run is to the comparison: one of the compared runs, or, with
// --finetune-on, a compared model fine-tuned or its architecture from scratch.
enum class Stage { Compared, Finetuned, Scratch };

struct PlannedRun {
  Family family;
  uint64_t seed;
  std::string name;  // run directory under the setup's out
  TrainConfig config;
  // The row of the results it belongs to: the family's name, or
  // "gpt-prefix" for GPT's prefix LM on a text.
  std::string label;
  Stage stage = Stage::Compared;
  GridCell cell;  // its settings in compare's grid (none without one)
};

// One run per cell of the grid, family in `families` and seed, each at the
// common size with the user's options and the cell's, matched as the setup
// says (within each cell). On a text (lm), GPT runs
// twice: as a causal LM, and as a prefix LM (label "gpt-prefix"). `vocab` and `classes` are
// the prepared data's. Throws std::invalid_argument naming the family when
// its options make no valid model.
std::vector<PlannedRun> plan_runs(const CompareSetup& setup, const std::vector<Family>& families,
                                  int64_t vocab, int64_t classes);

// For --finetune-on: per compared run whose family can do the fine-tuning
// task, a run from its best.h5 (<name>-finetuned) and one of the same
// architecture from scratch (<name>-scratch), on the fine-tuning data with
// the comparison's optimiser. `notes` gets why a family is left out.
std::vector<PlannedRun> plan_finetuning(const CompareSetup& setup,
                                        const std::vector<PlannedRun>& compared,
                                        std::vector<std::pair<Family, std::string>>& notes);

// ---- resuming ------------------------------------------------------------------------
// Where a planned run stands in its directory, for compare --resume.
enum class RunProgress {
  NotStarted,   // no checkpoint: train it (a log without a model is replaced)
  Interrupted,  // a checkpoint short of its steps: continue it
  Finished,     // trained to its steps (or stopped early): keep it
};
// Throws InputError naming the run directory and the first setting that
// differs when its checkpoint is not of this plan (another --lr, --steps,
// size or seed): a resumed comparison must compare what it planned.
RunProgress run_progress(const PlannedRun& plan);
// A finished run's result, read back from its checkpoint and metrics.jsonl:
// the final evaluation and the training seconds of all its invocations.
TrainResult finished_result(const PlannedRun& plan);
// Trains a run that is not finished, as `progress` says: an interrupted one
// continues from its checkpoint with its own --minutes share, one not
// started trains afresh (in a resumed sweep, replacing a log that saved no
// model). `options` gives the rest (quiet, overwrite). A continued run's
// seconds are those of all its invocations.
TrainResult continue_planned_run(const PlannedRun& plan, RunProgress progress, bool resuming_sweep,
                                 TrainerOptions options);

// ---- analysis ------------------------------------------------------------------------
// What a run's logged curves say.
struct CurveSummary {
  double tokens_per_s = 0;   // median of the logged training throughput
  double train_loss = 0;     // mean of the last tenth of the logged training losses
  int64_t steps_to_90 = -1;  // first evaluation at >= 90% of the final score; -1: none
};
CurveSummary summarise_curves(const report::RunCurves& curves, double final_score);

// A finished run and what was measured of it.
struct RunRecord {
  PlannedRun plan;
  TrainResult result;
  ModelConfig model;
  report::RunCurves curves;
  CurveSummary summary;
  double mean_row_tokens = 0;    // held-out rows as the model reads them
  double infer_ms = 0;           // per held-out example, batched; NaN for text objectives
  std::string objective;         // the framing's name, e.g. "masked language model"
  std::string sample;            // text objectives: what the model writes for held-out text
  std::string attention_svg;     // file name under the setup's out; "" without a trace
  std::string attention_markup;  // the picture, for the report
  std::string attention_map;     // which map it shows
  // Every head's statistics over the first held-out examples (kAttentionExamples).
  AttentionStatistics attention;
};

// How many held-out examples (or pieces of a text) a run's attention
// statistics are taken over.
inline constexpr size_t kAttentionExamples = 64;

// The held-out example every model's attention is shown on: the first one at
// least as long as the median, so the pictures have something to show.
size_t traced_example(const std::vector<data::Example>& held_out);

// Reads the run's curves and loads its best model from out/<name>: the
// inference time (for tasks) or a sample (for text), the mean row length,
// and one attention map, saved as an SVG under `out`.
void analyse_run(RunRecord& run, const std::string& out,
                 const std::vector<data::Example>& held_out);

// Training compute: describe's training FLOPs per token at `row_tokens`
// tokens a row, times the tokens of `steps` steps of `batch` rows.
double training_flops(const ModelConfig& model, double row_tokens, int64_t batch, int64_t steps);
// The same for an analysed run, at its held-out mean row length.
double run_training_flops(const RunRecord& run);

// ---- summaries -----------------------------------------------------------------------
// "m" for one value, "m ± s" (sample standard deviation) for more, "-" for
// none; each number in fmt `format`.
std::string mean_spread(const std::vector<double>& values, const char* format);

// One row per label (family, or GPT's prefix LM) with runs in `runs`, in
// their order, values mean ± spread over its seeds. A text's table has each
// objective's held-out loss and bits per character where a task's has scores.
report::Table results_table(const std::vector<RunRecord>& runs, data::TaskKind kind);
// What the table's columns mean, for under it.
std::string results_explanation(const std::vector<RunRecord>& runs, int64_t seeds,
                                data::TaskKind kind);
// A sample on one line: line breaks written as \n, tabs as \t.
std::string one_line(const std::string& text);
// The labels of `runs` in their order, each once.
std::vector<std::string> run_labels(const std::vector<RunRecord>& runs);
// With --finetune-on: per label, the held-out scores from scratch and after
// pretraining, and what pretraining bought (mean ± spread over seeds).
report::Table finetune_table(const std::vector<RunRecord>& runs, data::TaskKind kind);
// What the fine-tuning table compares, for under it.
std::string finetune_explanation(const CompareSetup& setup);
// Every head's attention statistics, a row per attention of each label's
// first-seed run: entropy, special-token share, and distance or
// monotonicity, each head's value in head order.
report::Table attention_table(const std::vector<RunRecord>& runs);
// What the attention table's columns mean, for under it.
std::string attention_explanation();
// One line of results.jsonl (docs/json.md).
Json result_json(const RunRecord& run);
// The equivalent `attnlab train` command of one run.
std::string train_command_line(const PlannedRun& run, const std::string& out);

// Writes compare.md, results.jsonl, curves.svg and report.html under the
// setup's out. `command` is the comparison's own command line; `notes` the
// eligibility notes of the families asked for. A text's report shows each
// objective's sample too.
void write_compare_files(const CompareSetup& setup,
                         const std::vector<std::pair<Family, std::string>>& notes,
                         const std::vector<RunRecord>& runs,
                         const std::vector<data::Example>& held_out, const std::string& command);

}  // namespace attnlab::study
