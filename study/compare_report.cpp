// The files a comparison leaves in its directory: compare.md (the table),
// results.jsonl (one line per run), curves.svg and report.html.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "report/chart.h"
#include "report/html.h"
#include "study/compare.h"
#include "study/scaling.h"
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

}  // namespace

void write_compare_files(const CompareSetup& setup,
                         const std::vector<std::pair<Family, std::string>>& notes,
                         const std::vector<RunRecord>& runs,
                         const std::vector<data::Example>& held_out, const std::string& command) {
  const fs::path out(setup.out);
  const bool text = setup.info.kind == data::TaskKind::LanguageModel;
  std::vector<RunRecord> all_compared;  // the fine-tuning runs have a table of their own
  for (const RunRecord& r : runs)
    if (r.plan.stage == Stage::Compared) all_compared.push_back(r);
  // With a grid, the tables, curves and pictures show each model at its best
  // setting, and the grid has a table of its own.
  const bool grid = !setup.grid.empty();
  const std::vector<RunRecord> compared = grid ? runs_of_best_cells(all_compared) : all_compared;
  std::optional<report::Table> grid_cells_table;
  if (grid) grid_cells_table = grid_table(all_compared, text);
  // A grid over sizes or steps gives each family a curve of loss against compute.
  std::vector<ScalingRun> scaling;
  for (const RunRecord& r : all_compared)
    scaling.push_back(
        {r.plan.label, run_training_flops(r), r.result.final_metrics.loss, r.plan.cell.name()});
  const bool scaling_curve = grid && has_scaling_curve(scaling);
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
    if (grid_cells_table)
      md << "\n## The grid\n\n"
         << grid_cells_table->markdown() << "\n"
         << grid_explanation(all_compared, text) << "\n";
    if (scaling_curve)
      md << "\n## Scaling\n\n![held-out loss against training FLOPs](scaling.svg)\n\n"
         << scaling_table(scaling).markdown() << "\n"
         << scaling_explanation() << "\n";
    if (tuned)
      md << "\n## " << tuned_title << "\n\n"
         << tuned->markdown() << "\n"
         << finetune_explanation(setup) << "\n";
    if (!samples.empty()) md << "\n## Samples\n";
    for (const auto& [label, sample] : samples)
      md << "\n" << label << ":\n\n    " << one_line(sample) << "\n";
  });
  write_text_file(out / "results.jsonl", [&](std::ostream& jl) {
    const auto best = grid ? best_cells(all_compared) : decltype(best_cells(all_compared)){};
    for (const RunRecord& r : runs) {
      Json j = result_json(r);
      if (grid && r.plan.stage == Stage::Compared)
        j["best"] = std::find(best.begin(), best.end(),
                              std::pair{r.plan.label, r.plan.cell.name()}) != best.end();
      jl << json_line(j) << "\n";
    }
  });
  const report::Svg curves = curves_chart(compared, score, !text);
  curves.save((out / "curves.svg").string());

  report::HtmlPage page(fmt::format("attnlab compare: {} ({})", setup.data_name(),
                                    data::task_kind_name(setup.info.kind)));
  page.paragraph(fmt::format(
      "{}. {} runs{}, {}; {}{}.", setup.info.description, all_compared.size(),
      grid ? fmt::format(" over a grid of {} settings", grid_cells(setup.grid).size()) : "",
      run_budget(setup), match_text(setup.match),
      setup.controlled ? ", built from identical blocks" : ""));
  page.heading(2, grid ? "Results at each model's best setting" : "Results");
  page.table(table.header, table.rows);
  page.paragraph(explain);
  for (const auto& [f, note] : notes) page.paragraph(fmt::format("{}: {}", family_name(f), note));
  if (grid_cells_table) {
    page.heading(2, "The grid");
    page.table(grid_cells_table->header, grid_cells_table->rows);
    page.paragraph(grid_explanation(all_compared, text));
  }
  if (scaling_curve) {
    const report::Svg chart = scaling_chart(scaling, "held-out loss against training compute");
    chart.save((out / "scaling.svg").string());
    page.heading(2, "Scaling");
    page.figure(chart.str(),
                "Each family's held-out loss against its training FLOPs (log scale): "
                "the best setting at each compute, and the fitted power law dashed "
                "where the points allow one.");
    const report::Table fits = scaling_table(scaling);
    page.table(fits.header, fits.rows);
    page.paragraph(scaling_explanation());
  }
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
