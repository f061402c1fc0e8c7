// The files a comparison leaves in its directory: compare.md (the table),
// results.jsonl (one line per run), curves.svg and report.html.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "report/chart.h"
#include "report/html.h"
#include "study/compare.h"
#include "train/output_file.h"

namespace attnlab::study {

namespace fs = std::filesystem;

namespace {

// Writes what write(stream) makes as the file at `path`, whole or not at all.
template <typename Write>
void write_text_file(const fs::path& path, Write write) {
  std::ostringstream text;
  write(text);
  write_file_atomically(path.string(), text.str());
}

// Training loss and held-out score of every run; a label's seeds share its
// colour. A text's runs show bits per character (or perplexity) as they are,
// a task's scores as percentages.
report::Svg curves_chart(const std::vector<RunRecord>& runs, const std::string& score,
                         bool percent) {
  const std::vector<std::string> labels = run_labels(runs);
  report::Panel loss{"training loss", "step", "loss", {}};
  report::Panel held{"held-out " + score, "step", percent ? score + " %" : score, {}};
  for (const RunRecord& r : runs) {
    const size_t colour =
        size_t(std::find(labels.begin(), labels.end(), r.plan.label) - labels.begin());
    report::Series s{r.plan.label, {}, colour, false};
    for (const auto& p : r.curves.train_loss) s.points.push_back({p.step, p.value});
    loss.series.push_back(s);
    s.points.clear();
    s.markers = true;
    for (const auto& p : r.curves.valid_score)
      s.points.push_back({p.step, percent ? 100 * p.value : p.value});
    held.series.push_back(s);
  }
  return report::line_charts({loss, held}, 480, 320);
}

std::string budget(const CompareSetup& s) {
  return s.steps > 0 ? fmt::format("{} steps", s.steps) : fmt::format("{} minutes", s.minutes);
}

}  // namespace

void write_compare_files(const CompareSetup& setup,
                         const std::vector<std::pair<Family, std::string>>& notes,
                         const std::vector<RunRecord>& runs,
                         const std::vector<data::Example>& held_out, const std::string& command) {
  const fs::path out(setup.out);
  const bool text = setup.info.kind == data::TaskKind::LanguageModel;
  std::vector<RunRecord> compared;  // the fine-tuning runs have a table of their own
  for (const RunRecord& r : runs)
    if (r.plan.stage == Stage::Compared) compared.push_back(r);
  const report::Table table = results_table(compared, setup.info.kind);
  const std::string table_text = table.markdown();
  const std::string explain = results_explanation(compared, setup.seeds, setup.info.kind);
  const bool words = text && !compared.empty() && compared.front().result.final_metrics.word_tokens;
  std::optional<report::Table> tuned;
  if (setup.finetune) tuned = finetune_table(runs, setup.finetune->kind);
  const std::string tuned_title =
      setup.finetune ? fmt::format("Fine-tuned on {} ({})", setup.finetune->train_file,
                                   data::task_kind_name(setup.finetune->kind))
                     : "";
  const std::string score = text ? (words ? "perplexity" : "bits per character")
                            : setup.info.kind == data::TaskKind::Classification ? "accuracy"
                                                                                : "exact match";
  // What each text objective writes for held-out text, by label (first seed).
  std::vector<std::pair<std::string, std::string>> samples;
  for (const RunRecord& r : compared)
    if (text && r.plan.seed == setup.first_seed) samples.emplace_back(r.plan.label, r.sample);

  write_text_file(out / "compare.md", [&](std::ostream& md) {
    md << "# " << command << "\n\n" << table_text << "\n" << explain << "\n";
    for (const auto& [f, note] : notes) md << "\n- " << family_name(f) << ": " << note << "\n";
    if (tuned)
      md << "\n## " << tuned_title << "\n\n"
         << tuned->markdown() << "\n"
         << finetune_explanation(setup) << "\n";
    if (!samples.empty()) md << "\n## Samples\n";
    for (const auto& [label, sample] : samples)
      md << "\n" << label << ":\n\n    " << one_line(sample) << "\n";
  });
  write_text_file(out / "results.jsonl", [&](std::ostream& jl) {
    for (const RunRecord& r : runs) jl << json_line(result_json(r)) << "\n";
  });
  const report::Svg curves = curves_chart(compared, score, !text);
  curves.save((out / "curves.svg").string());

  report::HtmlPage page(fmt::format("attnlab compare: {} ({})", setup.data_name(),
                                    data::task_kind_name(setup.info.kind)));
  page.paragraph(fmt::format("{}. {} runs, {}; every family {}{}.", setup.info.description,
                             compared.size(), budget(setup) + " each",
                             setup.match == Match::Params
                                 ? "with about the same number of parameters"
                                 : "with the same width and depth",
                             setup.controlled ? ", built from identical blocks" : ""));
  page.heading(2, "Results");
  page.table(table.header, table.rows);
  page.paragraph(explain);
  for (const auto& [f, note] : notes) page.paragraph(fmt::format("{}: {}", family_name(f), note));
  if (tuned) {
    page.heading(2, tuned_title);
    page.table(tuned->header, tuned->rows);
    page.paragraph(finetune_explanation(setup));
  }
  if (!samples.empty()) {
    page.heading(2, "Samples");
    page.paragraph(
        "What each model writes for held-out text: the causal and prefix LMs continue its first "
        "tokens (sampled at temperature 0.8); the masked LM fills in its chosen tokens (shown "
        "as _), T5 writes the spans its sentinels stand for.");
    for (const auto& [label, sample] : samples) {
      page.heading(3, label);
      page.code_block(sample);
    }
  }
  page.heading(2, "Training curves");
  page.figure(curves.str(), std::string("Training loss and held-out score against steps, every "
                                        "run on one chart") +
                                (setup.seeds > 1 ? "; a family's seeds share its colour." : "."));
  page.heading(2, "Where each model looks");
  if (text && !held_out.empty()) {
    page.paragraph(
        "The first characters of the held-out text through each model's best checkpoint. Rows "
        "are queries, columns keys.");
  } else if (!held_out.empty()) {
    const data::Example& traced = held_out[traced_example(held_out)];
    page.paragraph(fmt::format(
        "One held-out example through each model's best checkpoint, on its reference pair: the "
        "model reads \"{}\" and, teacher-forced, the expected \"{}\", not what it would write "
        "itself, so every family's picture has the same rows. Rows are queries, columns keys; "
        "at most the first 48 of each are drawn.",
        traced.source, traced.target));
  }
  for (const RunRecord& r : compared) {
    if (r.attention_svg.empty() || (setup.seeds > 1 && r.plan.seed != setup.first_seed)) continue;
    page.figure(r.attention_markup, fmt::format("{}: {}, averaged over heads (every head: {})",
                                                r.plan.name, r.attention_map, r.attention_svg));
  }
  const report::Table heads = attention_table(compared);
  if (!heads.rows.empty()) {
    page.heading(2, "Attention statistics");
    page.table(heads.header, heads.rows);
    page.paragraph(attention_explanation());
  }
  page.heading(2, "Reproduce");
  page.paragraph("The whole comparison:");
  page.code_block(command);
  page.paragraph("Each run on its own:");
  std::string lines;
  for (const RunRecord& r : runs) lines += train_command_line(r.plan, setup.out) + "\n";
  page.code_block(lines);
  page.save((out / "report.html").string());
}

}  // namespace attnlab::study
