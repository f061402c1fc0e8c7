#include "study/compare.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "common/errors.h"
#include "data/utf8.h"
#include "models/model.h"
#include "models/stats.h"
#include "report/attention_picture.h"
#include "study/loaded_run.h"
#include "train/checkpoint.h"
#include "train/metrics_log.h"
#include "train/run_dir.h"

namespace attnlab::study {

namespace fs = std::filesystem;

namespace {

// Identical blocks for a controlled comparison: only the attention routing differs.
const std::map<std::string, std::string> kControlledBlocks = {
    {"norm", "layernorm"},          {"placement", "pre"},     {"final_norm", "true"},
    {"embedding_norm", "false"},    {"activation", "gelu"},   {"bias", "true"},
    {"scale_scores", "true"},       {"positions", "learned"}, {"tie_embeddings", "true"},
    {"scale_tied_logits", "false"}, {"embedding_std", "0.02"}};

// The common size of every model, before the user's options.
const std::map<std::string, std::string> kCommonSize = {
    {"d_model", "128"}, {"n_heads", "4"},  {"d_ff", "256"},      {"n_layers", "2"},
    {"dropout", "0.0"}, {"max_len", "96"}, {"num_latents", "16"}};

double median(std::vector<double> xs) {
  if (xs.empty()) return 0;
  std::sort(xs.begin(), xs.end());
  return xs[xs.size() / 2];
}

}  // namespace

Eligibility eligibility(Family f, data::TaskKind kind) {
  const Architecture architecture = architecture_of(f);
  if (kind == data::TaskKind::LanguageModel) switch (text_objective(f)) {
      case TextObjective::None:
        return {false, fmt::format("left out: a {} model has no objective for plain text (its "
                                   "latents are not trained on text alone)",
                                   family_name(f))};
      case TextObjective::CausalLM:
        return {true,
                "causal LM: every position predicts the next token; as gpt-prefix, a prefix LM: "
                "each row split at a random point, the part before it read both ways"};
      case TextObjective::MaskedLM:
        return {true,
                "masked LM: 15% of the tokens chosen (80% <mask>, 10% random, 10% kept), each "
                "predicted"};
      case TextObjective::SpanCorruption:
        return {true,
                "span corruption: about 15% of the tokens, in spans of mean length 3, each span "
                "replaced by a sentinel; the decoder writes the spans"};
    }
  if (kind == data::TaskKind::Translation && architecture == Architecture::Classifier)
    return {false, fmt::format("left out: a {} model is an encoder with a classification head and "
                               "no decoder, so it cannot write an output sequence",
                               family_name(f))};
  if (kind == data::TaskKind::Classification && architecture == Architecture::DecoderOnly)
    return {true,
            "adapted: reads the text, then writes the label's tokens after a separator (one "
            "causal sequence); the label with the highest log-probability wins"};
  if (kind == data::TaskKind::Classification && architecture == Architecture::EncoderDecoder)
    return {true,
            "adapted: text-to-text, the decoder writes the label's tokens; the label with the "
            "highest log-probability wins"};
  return {};
}

ModelConfig closest_width(ModelConfig c, const std::function<double(const ModelConfig&)>& cost,
                          double target) {
  const double ff_ratio = double(c.d_ff) / double(c.d_model);
  ModelConfig best = c;
  double best_gap = -1;
  for (int64_t d = c.n_heads; d <= 2048; d += c.n_heads) {
    ModelConfig m = c;
    m.d_model = d;
    m.d_ff = std::max<int64_t>(1, std::llround(ff_ratio * double(d)));
    const double gap = std::fabs(cost(m) - target);
    if (best_gap < 0 || gap < best_gap) best = m, best_gap = gap;
  }
  return best;
}

ModelConfig match_parameters(ModelConfig c, int64_t target) {
  return closest_width(
      c, [](const ModelConfig& m) { return double(model_stats(m, 1).parameters.total()); },
      double(target));
}

std::string match_text(Match match) {
  switch (match) {
    case Match::Width:
      return "same width and depth";
    case Match::Params:
      return "parameters matched";
    case Match::Flops:
      return "training FLOPs matched by steps";
    case Match::FlopsWidth:
      return "training FLOPs matched by width";
  }
  return "";
}

std::string run_budget(const CompareSetup& s) {
  for (const GridAxis& axis : s.grid)
    if (axis.option == "steps")
      return fmt::format("steps {} (the grid)", fmt::join(axis.values, ", "));
  if (s.steps > 0) return fmt::format("{} steps each", s.steps);
  if (s.grid.empty()) return fmt::format("{} minutes each", s.minutes);
  return fmt::format("{} minutes in all, shared equally by the runs", s.minutes);
}

TrainConfig shared_config(const CompareSetup& s) {
  TrainConfig base;
  base.task = s.task;
  // The user's files, as a run stores them: absolute, so that --resume compares alike.
  for (const auto& [file, given] :
       {std::pair{&base.train_file, &s.train_file}, std::pair{&base.valid_file, &s.valid_file}})
    if (!given->empty()) *file = fs::absolute(*given).lexically_normal().string();
  if (s.task.empty()) base.task_kind = s.info.kind;
  base.steps = s.steps > 0 ? s.steps : 1000000;
  base.minutes = s.minutes;
  base.batch_size = s.batch_size;
  base.lr = s.lr;
  base.warmup = s.warmup >= 0 ? s.warmup : s.steps > 0 ? std::min<int64_t>(200, s.steps / 5) : 200;
  base.eval_every = s.eval_every > 0 ? s.eval_every
                    : s.steps > 0    ? std::max<int64_t>(1, s.steps / 10)
                                     : 100;
  base.log_every = std::max<int64_t>(1, std::min<int64_t>(base.eval_every / 4, 50));
  base.save_every = 0;
  train_config_fields().set(base, "tokenizer", s.tokenizer);
  base.vocab_size = s.vocab_size;
  base.block_size = s.block_size;
  return base;
}

CompareSetup CompareSetup::in_cell(const GridCell& cell) const {
  CompareSetup s = *this;
  for (const auto& [option, value] : cell.settings) {
    if (option == "lr") s.lr = std::stod(value);
    if (option == "steps") s.steps = std::stoll(value), s.minutes = 0;
    if (option == "batch-size") s.batch_size = std::stoll(value);
    for (Family f : s.families) {
      auto& options = s.model_options[f];
      if (option == "d-model") options["d_model"] = value;
      if (option == "layers") options["n_layers"] = options["n_decoder_layers"] = value;
      if (option == "dropout") options["dropout"] = value;
    }
  }
  return s;
}

namespace {

// The runs of one cell of the grid (all of them, without a grid).
std::vector<PlannedRun> plan_cell(const CompareSetup& setup, const GridCell& cell,
                                  const std::vector<Family>& families, int64_t vocab,
                                  int64_t classes) {
  const TrainConfig base = shared_config(setup);
  std::vector<PlannedRun> plan;
  int64_t target_params = 0;
  for (Family f : families) {
    TrainConfig c = base;
    c.model = f;
    c.model_overrides = kCommonSize;
    c.model_overrides["n_decoder_layers"] = c.model_overrides["n_layers"];
    // A text's rows are its blocks (and a model fine-tuned from it keeps them).
    if (setup.info.kind == data::TaskKind::LanguageModel)
      c.model_overrides["max_len"] = std::to_string(setup.block_size);
    try {
      if (const auto options = setup.model_options.find(f); options != setup.model_options.end())
        for (const auto& [key, value] : options->second) c.model_overrides[key] = value;
      if (setup.controlled)
        for (const auto& [key, value] : kControlledBlocks) c.model_overrides[key] = value;
      ModelConfig m = model_config_for(c, vocab, classes);
      if (setup.match == Match::Params) {
        if (target_params == 0) target_params = model_stats(m, 1).parameters.total();
        m = match_parameters(m, target_params);
        c.model_overrides["d_model"] = std::to_string(m.d_model);
        c.model_overrides["d_ff"] = std::to_string(m.d_ff);
      }
      validate(c);
      model_config_for(c, vocab, classes);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument(fmt::format("{} model: {}", family_name(f), e.what()));
    }
    // On a text, GPT is also trained as a prefix LM.
    std::vector<std::pair<std::string, TrainConfig>> variants = {{family_name(f), c}};
    if (setup.info.kind == data::TaskKind::LanguageModel && f == Family::GPT) {
      variants.emplace_back("gpt-prefix", c);
      variants.back().second.model_overrides["prefix_lm"] = "true";
    }
    for (const auto& [label, config] : variants)
      for (int64_t k = 0; k < setup.seeds; ++k) {
        PlannedRun r{f, setup.first_seed + uint64_t(k), label, config, label};
        r.cell = cell;
        r.config.seed = r.seed;
        if (!cell.settings.empty()) r.name += "-" + cell.name();
        if (setup.seeds > 1) r.name += fmt::format("-seed{}", r.seed);
        r.config.out = (fs::path(setup.out) / r.name).string();
        plan.push_back(r);
      }
  }
  return plan;
}

}  // namespace

std::vector<PlannedRun> plan_runs(const CompareSetup& setup, const std::vector<Family>& families,
                                  int64_t vocab, int64_t classes) {
  std::vector<PlannedRun> plan;
  for (const GridCell& cell : grid_cells(setup.grid)) {
    const std::vector<PlannedRun> runs =
        plan_cell(setup.in_cell(cell), cell, families, vocab, classes);
    plan.insert(plan.end(), runs.begin(), runs.end());
  }
  // A grid's --minutes is the whole sweep's: each run gets its share.
  if (!setup.grid.empty() && setup.minutes > 0)
    for (PlannedRun& r : plan) r.config.minutes = setup.minutes / double(plan.size());
  return plan;
}

double training_flops(const ModelConfig& model, double row_tokens, int64_t batch, int64_t steps) {
  const int64_t length = std::max<int64_t>(1, std::llround(row_tokens));
  return model_stats(model, length).training_flops() * row_tokens * double(batch) * double(steps);
}

double run_training_flops(const RunRecord& r) {
  return training_flops(r.model, r.mean_row_tokens, r.plan.config.batch_size, r.result.steps);
}

std::vector<PlannedRun> plan_finetuning(const CompareSetup& setup,
                                        const std::vector<PlannedRun>& compared,
                                        std::vector<std::pair<Family, std::string>>& notes) {
  const FinetuneSetup& ft = *setup.finetune;
  std::vector<PlannedRun> plan;
  for (const PlannedRun& p : compared) {
    const Eligibility e = eligibility(p.family, ft.kind);
    if (!e.takes_part) {
      const std::string note = "fine-tuning " + e.note;
      if (std::find(notes.begin(), notes.end(), std::pair{p.family, note}) == notes.end())
        notes.emplace_back(p.family, note);
      continue;
    }
    TrainConfig c = p.config;
    c.task.clear();
    c.train_file = fs::absolute(ft.train_file).lexically_normal().string();
    c.valid_file =
        ft.valid_file.empty() ? "" : fs::absolute(ft.valid_file).lexically_normal().string();
    c.task_kind = ft.kind;
    if (ft.steps > 0) {  // else the comparison's --minutes budget
      c.steps = ft.steps;
      c.minutes = 0;
      c.warmup = std::min<int64_t>(c.warmup, std::max<int64_t>(1, ft.steps / 5));
      c.eval_every = std::max<int64_t>(1, ft.steps / 10);
      c.log_every = std::max<int64_t>(1, std::min<int64_t>(c.eval_every / 4, 50));
    }
    c.select_metric = SelectMetric::Auto;
    for (const Stage stage : {Stage::Scratch, Stage::Finetuned}) {
      PlannedRun r = p;
      r.stage = stage;
      r.config = c;
      r.name = p.name + (stage == Stage::Finetuned ? "-finetuned" : "-scratch");
      r.config.out = (fs::path(setup.out) / r.name).string();
      // From scratch, the task is read with the compared run's kind of
      // tokenizer (on a text, auto means characters), not one auto picks
      // for the task: only the pretraining differs.
      if (stage == Stage::Scratch && setup.info.kind == data::TaskKind::LanguageModel &&
          r.config.tokenizer == TokenizerChoice::Auto)
        r.config.tokenizer = TokenizerChoice::Char;
      if (stage == Stage::Finetuned) {
        // The pretrained model brings its own vocabulary and tokenizer.
        r.config.init_from =
            fs::absolute(run_files::in(p.config.out, run_files::kBest)).lexically_normal().string();
        r.config.tokenizer = TokenizerChoice::Auto;
        r.config.vocab_size = kDefaultSubwordVocab;
      }
      plan.push_back(r);
    }
  }
  return plan;
}

CurveSummary summarise_curves(const report::RunCurves& curves, double final_score) {
  CurveSummary s;
  std::vector<double> throughput;
  for (const auto& p : curves.tokens_per_s) throughput.push_back(p.value);
  s.tokens_per_s = median(throughput);
  const size_t n_loss = curves.train_loss.size();
  const size_t tail = std::min(n_loss, std::max<size_t>(1, n_loss / 10));
  for (size_t i = n_loss - tail; i < n_loss; ++i)
    s.train_loss += curves.train_loss[i].value / double(tail);
  for (const auto& p : curves.valid_score)
    if (final_score > 0 && p.value >= 0.9 * final_score) {
      s.steps_to_90 = int64_t(p.step);
      break;
    }
  return s;
}

size_t traced_example(const std::vector<data::Example>& held_out) {
  std::vector<size_t> lengths;
  for (const auto& e : held_out) lengths.push_back(e.source.size());
  if (lengths.empty()) return 0;
  std::vector<size_t> sorted = lengths;
  std::nth_element(sorted.begin(), sorted.begin() + sorted.size() / 2, sorted.end());
  const size_t median = sorted[sorted.size() / 2];
  for (size_t i = 0; i < lengths.size(); ++i)
    if (lengths[i] >= median) return i;
  return 0;
}

namespace {

// The first `n` characters of `text` (whole code points).
std::string first_characters(const std::string& text, size_t n) {
  size_t end = 0;
  for (size_t k = 0; k < n && end < text.size(); ++k) end += data::code_point_length(text, end);
  return text.substr(0, end);
}

}  // namespace

// The most queries and keys a report's attention picture shows.
constexpr size_t kReportTokens = 48;

void analyse_run(RunRecord& r, const std::string& out, const std::vector<data::Example>& held_out) {
  const fs::path dir = fs::path(out) / r.plan.name;
  r.curves = report::read_curves(run_files::in(dir.string(), run_files::kMetrics));
  r.summary = summarise_curves(r.curves, r.result.final_metrics.headline());

  LoadedRun run = load_run(dir.string());
  r.model = run.model->config();
  r.objective = std::string(run.framing->name());
  std::vector<data::Example> sample(held_out.begin(),
                                    held_out.begin() + std::min<size_t>(held_out.size(), 1000));
  const std::vector<data::EncodedExample> encoded = run.framing->encode(sample);
  if (run.framing->streams_blocks()) {
    // A text's rows are blocks of block_size tokens, whatever the length of its held-out lines.
    r.mean_row_tokens = double(run.framing->block_size());
  } else {
    double tokens = 0;
    for (const auto& e : encoded) tokens += double(run.framing->input_positions(e));
    r.mean_row_tokens = sample.empty() ? 0 : tokens / double(sample.size());
  }
  if (held_out.empty()) return;

  // A text objective predicts nothing for an input: it shows what it writes
  // for held-out text, and its attention over the text's first characters.
  const bool text = run.framing->streams_blocks();
  // A task's example is drawn on its reference pair, teacher-forced: every
  // model's picture has the same rows, whatever it would write itself.
  data::Example traced = held_out[traced_example(held_out)];
  if (text) {
    r.infer_ms = NAN;
    r.sample = run.framing->sample(encoded, r.plan.seed);
    traced = {first_characters(held_out.front().source, 48), ""};
  } else {
    std::vector<std::string> texts;
    for (size_t i = 0; i < std::min<size_t>(held_out.size(), 256); ++i)
      texts.push_back(held_out[i].source);
    run.framing->predict({texts.begin(), texts.begin() + std::min<size_t>(texts.size(), 8)});
    const auto start = std::chrono::steady_clock::now();
    run.framing->predict(texts, 64);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    r.infer_ms = ms / double(texts.size());
  }

  r.attention = attention_statistics(*run.framing, held_out, kAttentionExamples);
  const Trace trace =
      text ? run.framing->trace(traced.source) : run.framing->trace_reference(traced);
  const TraceMap* shown = nullptr;  // the last cross map, else the last self map
  for (const TraceMap& m : trace.maps)
    if (m.kind == "cross" || m.kind == "latent cross") shown = &m;
  if (!shown && !trace.maps.empty()) shown = &trace.maps.back();
  if (!shown) return;
  r.attention_map = shown->name;
  r.attention_svg = "attention-" + r.plan.name + ".svg";
  report::attention_picture(trace, *shown, false, kReportTokens)
      .save((fs::path(out) / r.attention_svg).string());
  r.attention_markup = report::attention_picture(trace, *shown, true, kReportTokens).str();
}

report::Table attention_table(const std::vector<RunRecord>& runs) {
  report::Table table{
      {"model", "attention", "kind", "entropy (nats)", "special share", "distance", "monotone"}};
  const auto heads = [](const std::vector<double>& values, const char* format) {
    std::string text;
    for (double v : values)
      if (!std::isnan(v)) text += (text.empty() ? "" : " ") + fmt::format(fmt::runtime(format), v);
    return text.empty() ? std::string("-") : text;
  };
  std::vector<std::string> shown;
  for (const RunRecord& r : runs) {
    if (std::find(shown.begin(), shown.end(), r.plan.label) != shown.end()) continue;
    shown.push_back(r.plan.label);
    for (const MapStatistics& m : r.attention.maps)
      table.rows.push_back({r.plan.label, m.name, m.kind, heads(m.entropy(), "{:.2f}"),
                            heads(m.special_share(), "{:.2f}"), heads(m.distance(), "{:.1f}"),
                            heads(m.monotonicity(), "{:.2f}")});
  }
  return table;
}

std::string attention_explanation() {
  return fmt::format(
      "Each head's statistics over the first {} held-out examples, each on its reference pair "
      "(a text: pieces of one block), for each model's first seed, one value per head in head "
      "order. Entropy is the mean over query rows of -sum p ln p: 0 looks at one key, ln T "
      "everywhere alike. Special share is the weight on <bos>, <eos>, <sep>, <cls> and <pad>. "
      "Distance (self-attention) is the mean |query - key| weighted by attention; monotone "
      "(cross-attention) the share of steps whose strongest key does not move back. attnlab "
      "trace --valid gives the same for any checkpoint.",
      kAttentionExamples);
}

std::string mean_spread(const std::vector<double>& xs, const char* format) {
  if (xs.empty()) return "-";
  double mean = 0;
  for (double x : xs) mean += x / double(xs.size());
  if (xs.size() == 1) return fmt::format(fmt::runtime(format), mean);
  double var = 0;
  for (double x : xs) var += (x - mean) * (x - mean) / double(xs.size() - 1);
  // The spread has no sign, whatever the mean's format shows.
  std::string spread_format = format;
  std::erase(spread_format, '+');
  return fmt::format(fmt::runtime(format), mean) + " ± " +
         fmt::format(fmt::runtime(spread_format), std::sqrt(var));
}

std::string one_line(const std::string& text) {
  std::string line;
  for (const char c : text) line += c == '\n' ? "\\n" : c == '\t' ? "\\t" : std::string(1, c);
  return line;
}

std::vector<std::string> run_labels(const std::vector<RunRecord>& runs) {
  std::vector<std::string> labels;
  for (const RunRecord& r : runs)
    if (std::find(labels.begin(), labels.end(), r.plan.label) == labels.end())
      labels.push_back(r.plan.label);
  return labels;
}

report::Table results_table(const std::vector<RunRecord>& runs, data::TaskKind kind) {
  const bool classification = kind == data::TaskKind::Classification;
  const bool text = kind == data::TaskKind::LanguageModel;
  const bool words = text && !runs.empty() && runs.front().result.final_metrics.word_tokens;
  const bool grid = !runs.empty() && !runs.front().plan.cell.settings.empty();
  const std::string score = classification ? "accuracy" : "exact match";
  const std::string second = classification ? "macro-F1" : "token accuracy";
  report::Table table{
      text ? std::vector<std::string>{"model", "objective", "params", "train FLOPs / token",
                                      "wall s", "tokens/s", "train loss",
                                      "held-out loss / predicted token",
                                      words ? "perplexity" : "bits / char"}
           : std::vector<std::string>{"model", "params", "train FLOPs / token", "wall s",
                                      "tokens/s", "train loss", "held-out " + score + " %",
                                      second + " %", "steps to 90%", "inference ms / example"}};
  for (const std::string& label : run_labels(runs)) {
    std::vector<const RunRecord*> rs;
    for (const RunRecord& r : runs)
      if (r.plan.label == label) rs.push_back(&r);
    auto collect = [&](auto value) {
      std::vector<double> xs;
      for (const RunRecord* r : rs)
        if (double v = value(*r); std::isfinite(v)) xs.push_back(v);
      return xs;
    };
    const RunRecord& first = *rs.front();
    const ModelStats stats =
        model_stats(first.model, std::max<int64_t>(1, std::llround(first.mean_row_tokens)));
    std::vector<std::string> row = {
        label,
        report::with_commas(stats.parameters.total()),
        report::si_number(stats.training_flops()),
        mean_spread(collect([](const RunRecord& r) { return r.result.seconds; }), "{:.1f}"),
        mean_spread(collect([](const RunRecord& r) { return r.summary.tokens_per_s; }), "{:.0f}"),
        mean_spread(collect([](const RunRecord& r) { return r.summary.train_loss; }), "{:.3f}")};
    if (text) {
      row.insert(row.begin() + 1, first.objective);
      row.push_back(mean_spread(
          collect([](const RunRecord& r) { return r.result.final_metrics.loss; }), "{:.3f}"));
      row.push_back(mean_spread(
          collect([](const RunRecord& r) { return r.result.final_metrics.lm_measure(); }),
          words ? "{:.2f}" : "{:.3f}"));
    } else {
      row.push_back(mean_spread(
          collect([](const RunRecord& r) { return 100 * r.result.final_metrics.headline(); }),
          "{:.1f}"));
      row.push_back(mean_spread(collect([&](const RunRecord& r) {
                                  return 100 * (classification
                                                    ? r.result.final_metrics.macro_f1
                                                    : r.result.final_metrics.token_accuracy);
                                }),
                                "{:.1f}"));
      row.push_back(mean_spread(collect([](const RunRecord& r) {
                                  return r.summary.steps_to_90 >= 0 ? double(r.summary.steps_to_90)
                                                                    : NAN;
                                }),
                                "{:.0f}"));
      row.push_back(mean_spread(collect([](const RunRecord& r) { return r.infer_ms; }), "{:.2f}"));
    }
    if (grid) row.insert(row.begin() + 1, first.plan.cell.options());
    table.rows.push_back(std::move(row));
  }
  if (grid) table.header.insert(table.header.begin() + 1, "best setting");
  return table;
}

std::string results_explanation(const std::vector<RunRecord>& runs, int64_t seeds,
                                data::TaskKind kind) {
  const std::string spread =
      seeds > 1 ? fmt::format(" Values are mean ± standard deviation over {} seeds.", seeds) : "";
  const int64_t rows = runs.empty() ? 0 : runs.front().result.final_metrics.examples;
  if (kind == data::TaskKind::LanguageModel)
    return fmt::format(
        "Each family learns the text with its own objective, so the losses are of different "
        "tasks: the held-out loss is per token each objective predicts, on {} held-out blocks "
        "(the same masks and spans at every evaluation). Bits per character count that loss "
        "against the characters the predicted tokens stand for; only the causal LM's is the "
        "text's own compression (a prefix LM reads part of each row for free, a masked LM and "
        "span corruption see both sides of what they predict). Train loss is the mean of the "
        "last tenth of the logged losses; train FLOPs per token at the row length; tokens/s is "
        "the median logged training throughput.{}",
        rows, spread);
  return fmt::format(
      "Held-out scores are of the final model on {} held-out examples; train loss is the mean of "
      "the last tenth of the logged losses, each family's own objective (per example for "
      "classifier heads, per target token for GPT and T5); train FLOPs per token at the mean "
      "held-out row length; tokens/s is the median logged training throughput; inference is "
      "greedy decoding or classification of 256 held-out examples in batches of 64.{}",
      rows, spread);
}

report::Table finetune_table(const std::vector<RunRecord>& runs, data::TaskKind kind) {
  const bool classification = kind == data::TaskKind::Classification;
  const std::string score = classification ? "accuracy" : "exact match";
  const std::string second = classification ? "macro-F1" : "token accuracy";
  report::Table table{{"model", "from scratch: " + score + " %", "pretrained: " + score + " %",
                       "gain (points)", "from scratch: " + second + " %",
                       "pretrained: " + second + " %"}};
  std::vector<RunRecord> tuned;
  for (const RunRecord& r : runs)
    if (r.plan.stage != Stage::Compared) tuned.push_back(r);
  for (const std::string& label : run_labels(tuned)) {
    std::vector<double> scratch[2], pretrained[2], gain;
    for (const RunRecord& r : tuned) {
      if (r.plan.label != label) continue;
      const EvalMetrics& m = r.result.final_metrics;
      const double values[2] = {100 * m.headline(),
                                100 * (classification ? m.macro_f1 : m.token_accuracy)};
      for (int k = 0; k < 2; ++k)
        (r.plan.stage == Stage::Scratch ? scratch : pretrained)[k].push_back(values[k]);
    }
    // The gain of each seed over its own scratch run.
    for (size_t i = 0; i < std::min(scratch[0].size(), pretrained[0].size()); ++i)
      gain.push_back(pretrained[0][i] - scratch[0][i]);
    table.rows.push_back({label, mean_spread(scratch[0], "{:.1f}"),
                          mean_spread(pretrained[0], "{:.1f}"), mean_spread(gain, "{:+.1f}"),
                          mean_spread(scratch[1], "{:.1f}"), mean_spread(pretrained[1], "{:.1f}")});
  }
  return table;
}

std::string finetune_explanation(const CompareSetup& setup) {
  const FinetuneSetup& ft = *setup.finetune;
  return fmt::format(
      "Each compared model's best checkpoint fine-tuned on {} ({}{}), beside the same "
      "architecture trained on it from scratch, with the same optimiser and {}: pretrained runs "
      "keep the pretrained model's vocabulary and body and start a new head. Scores are of the "
      "final model on the held-out examples; the gain is pretrained minus scratch{}.",
      ft.train_file, data::task_kind_name(ft.kind),
      ft.valid_file.empty() ? ", its last tenth held out" : ", held out: " + ft.valid_file,
      ft.steps > 0 ? fmt::format("{} steps", ft.steps) : fmt::format("{} minutes", setup.minutes),
      setup.seeds > 1
          ? fmt::format(", per seed, as mean ± standard deviation over {} seeds", setup.seeds)
          : "");
}

Json result_json(const RunRecord& r) {
  Json j{{"model", family_name(r.plan.family)},
         {"label", r.plan.label},
         {"seed", r.plan.seed},
         {"dir", r.plan.name},
         {"d_model", r.model.d_model},
         {"parameters", model_stats(r.model, 1).parameters.total()},
         {"steps", r.result.steps},
         {"seconds", r.result.seconds},
         {"tokens_per_s", r.summary.tokens_per_s},
         {"train_loss", r.summary.train_loss},
         {"score", r.result.final_metrics.headline()},
         {"loss", r.result.final_metrics.loss},
         {"macro_f1", r.result.final_metrics.macro_f1},
         {"token_accuracy", r.result.final_metrics.token_accuracy},
         {"steps_to_90", r.summary.steps_to_90},
         {"inference_ms_per_example", r.infer_ms},
         {"training_flops", run_training_flops(r)}};
  if (!r.plan.cell.settings.empty()) {
    j["cell"] = r.plan.cell.name();
    j["settings"] = r.plan.cell.json();
  }
  if (r.plan.stage != Stage::Compared) {
    j["stage"] = r.plan.stage == Stage::Finetuned ? "finetuned" : "scratch";
    if (!r.plan.config.init_from.empty()) j["init_from"] = r.plan.config.init_from;
    for (const char* key : {"d_model", "parameters", "tokens_per_s", "train_loss", "steps_to_90",
                            "inference_ms_per_example", "training_flops"})
      j.erase(key);
  }
  const EvalMetrics& m = r.result.final_metrics;
  if (m.language_model) {
    for (const char* key :
         {"score", "macro_f1", "token_accuracy", "steps_to_90", "inference_ms_per_example"})
      j.erase(key);
    j["objective"] = r.objective;
    j["loss"] = m.loss;
    j[m.lm_measure_name()] = m.lm_measure();
    j["sample"] = r.sample;
  }
  return j;
}

std::string train_command_line(const PlannedRun& run, const std::string& out) {
  const TrainConfig& c = run.config;
  const std::string data =
      !c.task.empty() ? fmt::format("--task {}", c.task)
                      : fmt::format("--train-file {}{} --task-kind {}", c.train_file,
                                    c.valid_file.empty() ? "" : " --valid-file " + c.valid_file,
                                    data::task_kind_name(c.task_kind));
  std::string line = fmt::format(
      "attnlab train --model {} {} --steps {} --batch-size {} --lr {} --warmup {} "
      "--eval-every {} --seed {} --tokenizer {}",
      family_name(c.model), data, c.steps, c.batch_size, c.lr, c.warmup, c.eval_every, c.seed,
      train_config_fields().to_map(c).at("tokenizer"));
  if (is_subword(c.tokenizer)) line += fmt::format(" --vocab-size {}", c.vocab_size);
  if (!c.init_from.empty()) line += " --init-from " + c.init_from;
  if (c.task_kind == data::TaskKind::LanguageModel && c.task.empty())
    line += fmt::format(" --block-size {}", c.block_size);
  if (c.minutes > 0) line += fmt::format(" --minutes {}", c.minutes);
  for (const auto& [key, value] : c.model_overrides)
    line += fmt::format(" --set {}={}", key, value);
  return line + fmt::format(" --out {}", (fs::path(out) / run.name).string());
}

RunProgress run_progress(const PlannedRun& plan) {
  const std::string dir = plan.config.out;
  const std::string ckpt = run_files::in(dir, run_files::kCheckpoint);
  if (!std::filesystem::exists(ckpt)) return RunProgress::NotStarted;
  const CheckpointInfo stored = read_checkpoint_info(ckpt);
  // Settings a run resolves or fits as it starts are not the plan's to compare.
  const bool fitted_steps = plan.config.minutes > 0;
  const auto planned = train_config_fields().to_map(plan.config);
  const auto kept = train_config_fields().to_map(stored.train);
  for (const auto& [key, value] : planned) {
    if (key == "out" || key == "minutes" || key == "tokenizer" || key == "select_metric" ||
        key == "task_kind" || ((key == "steps" || key == "warmup") && fitted_steps) ||
        (key == "vocab_size" && !plan.config.init_from.empty()))
      continue;
    if (!kept.count(key) || kept.at(key) != value)
      throw InputError(fmt::format(
          "--resume: {} was trained with {} {}, and this sweep asks for {}: run it with the "
          "options it started with, or replace the runs with --overwrite",
          dir, key, kept.count(key) ? kept.at(key) : std::string("(none)"), value));
  }
  if (stored.train.model_overrides != plan.config.model_overrides)
    throw InputError(fmt::format(
        "--resume: {} was trained with other model options (--set, sizes) than this sweep asks "
        "for: run it with the options it started with, or replace the runs with --overwrite",
        dir));
  const TrainingState& state = stored.state;
  const bool early_stopped =
      stored.train.early_stop > 0 && state.evals_without_improvement >= stored.train.early_stop;
  return state.step >= stored.train.steps || early_stopped ? RunProgress::Finished
                                                           : RunProgress::Interrupted;
}

TrainResult continue_planned_run(const PlannedRun& plan, RunProgress progress, bool resuming_sweep,
                                 TrainerOptions options) {
  options.resume = progress == RunProgress::Interrupted;
  options.overwrite = options.overwrite || (resuming_sweep && !options.resume);
  options.resume_minutes = options.resume ? plan.config.minutes : 0;
  TrainResult result = Trainer(plan.config, options).run();
  if (options.resume && !result.interrupted) result.seconds = finished_result(plan).seconds;
  return result;
}

TrainResult finished_result(const PlannedRun& plan) {
  const std::string dir = plan.config.out;
  const CheckpointInfo info = read_checkpoint_info(run_files::in(dir, run_files::kCheckpoint));
  const std::string log = run_files::in(dir, run_files::kMetrics);
  TrainResult result;
  result.steps = info.state.step;
  result.best_metric = info.state.best_metric;
  result.best_step = info.state.best_step;
  result.checkpoint = run_files::in(dir, run_files::kCheckpoint);
  bool evaluated = false;
  double invocation_seconds = 0;  // elapsed_s restarts at each --resume
  for (const std::string& line : read_metrics_log(log).lines) {
    MetricsRecord r;
    try {
      r = parse_metrics_line(line);
    } catch (const std::invalid_argument&) {
      continue;
    }
    if (r.kind == MetricsRecord::Kind::Resume) {
      result.seconds += invocation_seconds;
      invocation_seconds = 0;
    }
    if (std::isfinite(r.elapsed_s)) invocation_seconds = std::max(invocation_seconds, r.elapsed_s);
    if (r.kind == MetricsRecord::Kind::Train && std::isfinite(r.loss)) {
      if (result.first_loss == 0) result.first_loss = r.loss;
      result.last_loss = r.loss;
    }
    if (r.kind != MetricsRecord::Kind::Valid || r.step != double(result.steps)) continue;
    EvalMetrics m;
    m.classification = info.task_kind == data::TaskKind::Classification;
    m.loss = r.loss;
    for (const auto& [name, value] : r.scores) {
      if (name == "exact_match") m.exact_match = value;
      if (name == "token_accuracy") m.token_accuracy = value;
      if (name == "accuracy") m.accuracy = value;
      if (name == "macro_f1") m.macro_f1 = value;
      // A text's log keeps bits per character, not the tokens per character behind them.
      if (name == "bits_per_char" && r.loss > 0) m.tokens_per_char = value * std::log(2.0) / r.loss;
    }
    m.language_model = info.task_kind == data::TaskKind::LanguageModel;
    m.word_tokens = m.language_model && info.vocab_kind == "word";
    m.examples = std::isfinite(r.examples) ? int64_t(r.examples) : 0;
    result.final_metrics = m;
    evaluated = true;
  }
  result.seconds += invocation_seconds;
  if (!evaluated)
    throw InputError(fmt::format(
        "--resume: {} has no held-out evaluation at its last step ({}); replace the runs with "
        "--overwrite",
        log, result.steps));
  return result;
}

}  // namespace attnlab::study
