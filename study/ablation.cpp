#include "study/ablation.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>

#include "report/grid.h"

namespace attnlab::study {
namespace {

// The kinds an item of --heads names.
std::vector<std::string> kinds_named(const std::string& name) {
  if (name == "self") return {"encoder self", "decoder self", "latent self"};
  if (name == "cross") return {"cross", "latent cross"};
  if (name == "latent") return {"latent cross", "latent self"};
  for (const std::string kind : {"encoder self", "decoder self", "latent cross", "latent self"}) {
    std::string dashed = kind;
    std::replace(dashed.begin(), dashed.end(), ' ', '-');
    if (name == dashed) return {kind};
  }
  return {};
}

std::string kinds_of(const std::vector<AttentionModule>& sites) {
  std::vector<std::string> kinds;
  for (const AttentionModule& s : sites)
    if (std::find(kinds.begin(), kinds.end(), s.kind) == kinds.end()) kinds.push_back(s.kind);
  std::string text;
  for (const std::string& k : kinds) text += (text.empty() ? "" : ", ") + k;
  return text;
}

int64_t parse_index(const std::string& text, const std::string& item, const char* what) {
  size_t used = 0;
  int64_t value = -1;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
  }
  if (used != text.size() || value < 0)
    throw std::invalid_argument(
        fmt::format("--heads {}: the {} '{}' is not a number >= 0", item, what, text));
  return value;
}

// The headline metric: exact match or accuracy, or a language model's bits
// per character (perplexity for words).
double headline_of(const EvalMetrics& m) {
  return m.language_model ? m.lm_measure() : m.headline();
}

}  // namespace

Ablation parse_heads(const std::string& list, const std::vector<AttentionModule>& sites) {
  Ablation a;
  std::map<size_t, std::vector<int64_t>> chosen;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    const std::string item = list.substr(start, comma - start);
    start = comma + 1;
    if (item.empty()) throw std::invalid_argument(fmt::format("--heads '{}': an empty item", list));
    std::vector<std::string> parts;
    for (size_t at = 0; at <= item.size();) {
      const size_t colon = std::min(item.find(':', at), item.size());
      parts.push_back(item.substr(at, colon - at));
      at = colon + 1;
    }
    if (parts.size() > 3)
      throw std::invalid_argument(
          fmt::format("--heads {}: give KIND, KIND:LAYER or KIND:LAYER:HEAD", item));
    const std::vector<std::string> kinds = kinds_named(parts[0]);
    if (kinds.empty())
      throw std::invalid_argument(fmt::format(
          "--heads {}: '{}' is no kind of attention (self, cross, latent, encoder-self, "
          "decoder-self, latent-cross, latent-self)",
          item, parts[0]));
    const int64_t layer = parts.size() > 1 ? parse_index(parts[1], item, "layer") : -1;
    const int64_t head = parts.size() > 2 ? parse_index(parts[2], item, "head") : -1;
    bool found = false;
    for (size_t s = 0; s < sites.size(); ++s) {
      const AttentionModule& site = sites[s];
      if (std::find(kinds.begin(), kinds.end(), site.kind) == kinds.end()) continue;
      if (layer >= 0 && site.layer != layer) continue;
      if (head >= site.attention->heads())
        throw std::invalid_argument(fmt::format("--heads {}: {} has heads 0..{}", item, site.path,
                                                site.attention->heads() - 1));
      found = true;
      auto& heads = chosen[s];
      for (int64_t h = 0; h < site.attention->heads(); ++h)
        if ((head < 0 || h == head) && std::find(heads.begin(), heads.end(), h) == heads.end())
          heads.push_back(h);
    }
    if (!found)
      throw std::invalid_argument(
          fmt::format("--heads {}: the model has no such attention{} (it has: {})", item,
                      layer >= 0 ? fmt::format(" in block {}", layer) : "", kinds_of(sites)));
    a.label += (a.label.empty() ? "" : ", ") + item;
  }
  for (auto& [site, heads] : chosen) {
    std::sort(heads.begin(), heads.end());
    a.heads.emplace_back(site, heads);
  }
  return a;
}

std::vector<Ablation> every_head(const std::vector<AttentionModule>& sites) {
  std::vector<Ablation> out;
  for (size_t s = 0; s < sites.size(); ++s)
    for (int64_t h = 0; h < sites[s].attention->heads(); ++h)
      out.push_back({fmt::format("{} {}.{}", sites[s].kind, sites[s].layer, h), {{s, {h}}}});
  return out;
}

std::vector<AblationResult> run_ablations(Model& model, const Framing& framing,
                                          const std::vector<data::EncodedExample>& encoded,
                                          const std::vector<Ablation>& ablations, AblationMode mode,
                                          size_t batch_size, size_t max_examples) {
  const std::vector<AttentionModule> sites = attention_sites(model);
  // The intact model; for mean ablation it also records every attention's
  // head outputs.
  std::vector<HeadOutputSums> sums(sites.size());
  if (mode == AblationMode::Mean)
    for (size_t s = 0; s < sites.size(); ++s) sites[s].attention->record_head_outputs(&sums[s]);
  std::vector<AblationResult> results;
  results.push_back({{"none (intact)", {}}, framing.evaluate(encoded, batch_size, max_examples)});
  for (const AttentionModule& site : sites) site.attention->record_head_outputs(nullptr);

  for (const Ablation& a : ablations) {
    for (const auto& [s, heads] : a.heads) {
      HeadAblation removal{heads, {}};
      if (mode == AblationMode::Mean && sums[s].positions > 0)
        for (const double sum : sums[s].sum)
          removal.fill.push_back(sum / double(sums[s].positions));
      sites[s].attention->set_ablation(removal);
    }
    results.push_back({a, framing.evaluate(encoded, batch_size, max_examples)});
    for (const auto& [s, heads] : a.heads) sites[s].attention->set_ablation(std::nullopt);
  }
  return results;
}

report::Table ablation_table(const std::vector<AblationResult>& results) {
  const EvalMetrics& intact = results.front().metrics;
  const std::string metric = intact.language_model
                                 ? (intact.word_tokens ? "perplexity" : "bits / char")
                             : intact.classification ? "accuracy %"
                                                     : "exact match %";
  const double scale = intact.language_model ? 1.0 : 100.0;
  report::Table table{{"removed", metric, "change", "loss", "change"}};
  for (const AblationResult& r : results) {
    const double value = scale * headline_of(r.metrics), base = scale * headline_of(intact);
    const bool first = &r == &results.front();
    // No change prints as +0.00, not as the -0.00 of a rounding residue.
    const auto change = [](double d, const char* format) {
      return fmt::format(fmt::runtime(format), std::fabs(d) < 1e-12 ? 0.0 : d);
    };
    table.rows.push_back({r.ablation.label, fmt::format("{:.2f}", value),
                          first ? "" : change(value - base, "{:+.2f}"),
                          fmt::format("{:.4f}", r.metrics.loss),
                          first ? "" : change(r.metrics.loss - intact.loss, "{:+.4f}")});
  }
  return table;
}

std::vector<std::pair<std::string, report::Svg>> ablation_heatmaps(
    const std::vector<AblationResult>& results, const std::vector<AttentionModule>& sites,
    const std::string& title) {
  const EvalMetrics& intact = results.front().metrics;
  const bool lm = intact.language_model;
  // A language model's measure is better lower; a score, higher.
  const double scale = lm ? 1.0 : 100.0, better = lm ? -1.0 : 1.0;
  const std::string measure = lm ? (intact.word_tokens ? "perplexity" : "bits per character")
                              : intact.classification ? "accuracy (points)"
                                                      : "exact match (points)";
  std::vector<std::string> kinds;
  for (const AttentionModule& s : sites)
    if (std::find(kinds.begin(), kinds.end(), s.kind) == kinds.end()) kinds.push_back(s.kind);
  std::vector<std::pair<std::string, report::Svg>> out;
  for (const std::string& kind : kinds) {
    int64_t layers = 0, heads = 0;
    for (const AttentionModule& s : sites)
      if (s.kind == kind)
        layers = std::max(layers, s.layer + 1), heads = std::max(heads, s.attention->heads());
    report::GridPanel panel;
    panel.title = kind + " attention";
    panel.row_title = "block";
    panel.col_title = "head";
    for (int64_t l = 0; l < layers; ++l) panel.row_labels.push_back(std::to_string(l));
    for (int64_t h = 0; h < heads; ++h) panel.col_labels.push_back(std::to_string(h));
    panel.values.assign(size_t(layers * heads), NAN);
    panel.cell_text.assign(size_t(layers * heads), "");
    double largest = 1e-9;
    bool any = false;
    for (const AblationResult& r : results) {
      if (r.ablation.heads.size() != 1 || r.ablation.heads[0].second.size() != 1) continue;
      const AttentionModule& site = sites[r.ablation.heads[0].first];
      if (site.kind != kind) continue;
      const size_t cell = size_t(site.layer * heads + r.ablation.heads[0].second[0]);
      const double change = scale * (headline_of(r.metrics) - headline_of(intact));
      panel.values[cell] = better * change;
      const double shown = std::fabs(change) < (lm ? 0.005 : 0.05) ? 0.0 : change;
      panel.cell_text[cell] = fmt::format(fmt::runtime(lm ? "{:+.2f}" : "{:+.1f}"), shown);
      largest = std::max(largest, std::fabs(change));
      any = true;
    }
    if (!any) continue;
    const report::ColourScale colours{
        -largest, largest, true,
        fmt::format("change in held-out {} with the head removed (red: worse)", measure)};
    const std::string note =
        fmt::format("intact model: {:.2f}; grey: no such head", scale * headline_of(intact));
    std::string file = kind;
    std::replace(file.begin(), file.end(), ' ', '-');
    out.emplace_back("heads-" + file + ".svg",
                     report::grid_heatmaps(title, {panel}, colours, note));
  }
  return out;
}

}  // namespace attnlab::study
