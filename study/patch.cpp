#include "study/patch.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "report/grid.h"

namespace attnlab::study {

namespace {

// Clears every hook when it goes, whatever happened in between.
struct HooksCleared {
  const PatchSites& sites;
  ~HooksCleared() {
    for (const BlockModule& b : sites.blocks) b.block->set_hook(nullptr);
    for (const AttentionModule& a : sites.attentions) a.attention->set_merged_hook(nullptr);
  }
};

// `value` (1,T,W) with channels [first, first + width) of row `position`
// (every row for -1) taken from `clean`.
Tensor restored(const Tensor& value, const Tensor& clean, int64_t position, int64_t first,
                int64_t width) {
  if (value.shape() != clean.shape())
    throw std::logic_error(fmt::format("patch: the clean run's activation is {}, this run's {}",
                                       shape_str(clean.shape()), shape_str(value.shape())));
  const int64_t t = value.size(1), w = value.size(2);
  Tensor out = value.clone();
  const size_t element = value.dtype() == DType::F64 ? 8 : 4;
  char* to = static_cast<char*>(out.raw_data());
  const char* from = static_cast<const char*>(clean.raw_data());
  for (int64_t row = 0; row < t; ++row) {
    if (position >= 0 && row != position) continue;
    const size_t at = (size_t(row * w + first)) * element;
    std::memcpy(to + at, from + at, size_t(width) * element);
  }
  return out;
}

int32_t most_likely(const std::vector<double>& log_probs) {
  return int32_t(std::max_element(log_probs.begin(), log_probs.end()) - log_probs.begin());
}

// The tokens each block reads, from a run's trace: its state's axis.
std::vector<std::string> tokens_of(const Trace& trace, const std::string& block) {
  for (const TraceState& s : trace.states)
    if (s.name == block)
      for (const auto& [axis, tokens] : trace.axes)
        if (axis == s.axis) return tokens;
  return {};
}

// The tokens an attention's queries read, from the map the trace names it
// by: its module path, or for the Perceiver's lone cross-attention
// ("cross_attn") the trace's "latent/cross_attn".
std::vector<std::string> query_tokens(const Trace& trace, const AttentionModule& attention) {
  const TraceMap* found = nullptr;
  for (const TraceMap& m : trace.maps)
    if (m.name == attention.path) found = &m;
  if (!found)
    for (const TraceMap& m : trace.maps)
      if (m.kind == attention.kind && m.name.size() > attention.path.size() &&
          m.name.compare(m.name.size() - attention.path.size(), std::string::npos,
                         attention.path) == 0 &&
          m.name[m.name.size() - attention.path.size() - 1] == '/')
        found = &m;
  if (found)
    for (const auto& [axis, tokens] : trace.axes)
      if (axis == found->query_axis) return tokens;
  return {};
}

// The two runs' next outputs must be numbers to compare.
void check_finite(const Framing::ForcedRun& run, const char* which) {
  for (const double x : run.next)
    if (std::isnan(x) || x == INFINITY)
      throw std::invalid_argument(fmt::format(
          "the {} run's output log-probabilities are not finite: the checkpoint has diverged",
          which));
}

// Refuses inputs whose rows differ in length: positions pair one to one.
void check_same_lengths(const Trace& clean, const Trace& corrupt) {
  for (const auto& [axis, tokens] : clean.axes)
    for (const auto& [other_axis, other] : corrupt.axes)
      if (axis == other_axis && tokens.size() != other.size())
        throw std::invalid_argument(fmt::format(
            "the clean input is {} tokens on the {} axis and the corrupt input {}: patching pairs "
            "positions one to one, so give inputs of the same length in tokens",
            tokens.size(), axis, other.size()));
}

}  // namespace

PatchSites patch_sites(Model& model) {
  return {block_modules(model), attention_sites(model)};
}

std::string PatchGrid::row_label(size_t row) const {
  return heads[row] < 0 ? std::to_string(blocks[row])
                        : fmt::format("{}.{}", blocks[row], heads[row]);
}

Framing::ForcedRun record_run(const Framing& framing, const PatchSites& sites,
                              const std::string& text, const std::vector<int32_t>& forced,
                              Recording& recording) {
  HooksCleared cleared{sites};
  for (size_t i = 0; i < sites.blocks.size(); ++i)
    sites.blocks[i].block->set_hook([&recording, i](BlockSite site, const Tensor& value) {
      recording.sites[{i, site}] = value.clone();
      return value;
    });
  for (size_t i = 0; i < sites.attentions.size(); ++i)
    sites.attentions[i].attention->set_merged_hook([&recording, i](const Tensor& merged) {
      recording.heads[i] = merged.clone();
      return merged;
    });
  return framing.run_forced(text, forced);
}

Framing::ForcedRun patched_run(const Framing& framing, const PatchSites& sites,
                               const std::string& text, const std::vector<int32_t>& forced,
                               const Recording& recording, const PatchSpot& spot) {
  HooksCleared cleared{sites};
  if (spot.head >= 0) {
    const auto clean = recording.heads.find(spot.index);
    const AttentionModule& a = sites.attentions.at(spot.index);
    if (clean == recording.heads.end())
      throw std::logic_error(fmt::format("patch: nothing recorded at {}", a.path));
    const int64_t d = clean->second.size(2) / a.attention->heads();
    a.attention->set_merged_hook([&, d](const Tensor& merged) {
      return restored(merged, clean->second, spot.position, spot.head * d, d);
    });
    return framing.run_forced(text, forced);
  }
  const auto clean = recording.sites.find({spot.index, spot.site});
  const BlockModule& b = sites.blocks.at(spot.index);
  if (clean == recording.sites.end())
    throw std::logic_error(fmt::format("patch: nothing recorded at {} of {}",
                                       enum_name(kBlockSiteNames, spot.site), b.path));
  b.block->set_hook([&](BlockSite site, const Tensor& value) {
    return site == spot.site ? restored(value, clean->second, spot.position, 0, value.size(2))
                             : value;
  });
  return framing.run_forced(text, forced);
}

PatchResult activation_patching(Model& model, const Framing& framing, const data::Vocab& vocab,
                                const std::string& clean, const std::string& corrupt, bool heads,
                                PatchMetric metric, size_t max_steps) {
  PatchResult result{clean, corrupt, metric, {}, {}};
  PatchAnswer& a = result.answer;
  const auto name_of = [&](const Framing::ForcedRun& run, int32_t id) {
    return run.over_labels ? framing.labels().at(size_t(id)) : vocab.token_of(id);
  };
  // The first output the two disagree on, both teacher-forced on the clean one.
  Framing::ForcedRun clean_run, corrupt_run;
  const auto same_output = [&](size_t steps, const std::string& why) {
    return std::invalid_argument(fmt::format(
        "the clean and corrupt inputs give the same output{} ('{}'){}: there is no answer of the "
        "clean run's for patching to restore",
        clean_run.over_labels ? "" : fmt::format(" for {} steps", steps),
        clean_run.over_labels ? name_of(clean_run, a.answer)
                              : vocab.decode(a.forced) + name_of(clean_run, a.answer),
        why));
  };
  for (size_t step = 0;; ++step) {
    try {
      clean_run = framing.run_forced(clean, a.forced);
      corrupt_run = framing.run_forced(corrupt, a.forced);
    } catch (const std::invalid_argument&) {
      if (step == 0) throw;
      a.forced.pop_back();  // the longest output that fits the model agreed
      throw same_output(step, ", until the model's max_len");
    }
    check_finite(clean_run, "clean");
    check_finite(corrupt_run, "corrupt");
    if (step == 0) check_same_lengths(clean_run.trace, corrupt_run.trace);
    a.answer = most_likely(clean_run.next);
    a.contrast = most_likely(corrupt_run.next);
    if (a.answer != a.contrast) break;
    if (clean_run.over_labels || a.answer == data::kEosId || step + 1 >= max_steps)
      throw same_output(step + 1, "");
    a.forced.push_back(a.answer);
  }
  a.answer_name = name_of(clean_run, a.answer);
  a.contrast_name = name_of(clean_run, a.contrast);
  a.forced_text = vocab.decode(a.forced);
  const auto measure = [&](const std::vector<double>& next) {
    const double lp = next[size_t(a.answer)];
    return metric == PatchMetric::LogProb ? lp : lp - next[size_t(a.contrast)];
  };
  a.clean_log_prob = clean_run.next[size_t(a.answer)];
  a.corrupt_log_prob = corrupt_run.next[size_t(a.answer)];
  a.clean_metric = measure(clean_run.next);
  a.corrupt_metric = measure(corrupt_run.next);
  const double gap = a.clean_metric - a.corrupt_metric;
  if (!(gap > 1e-3))
    throw std::invalid_argument(fmt::format(
        "the clean answer '{}' is hardly likelier in the clean run than in the corrupt run ({} "
        "{:.6f} against {:.6f}): a share of so small a gap would be rounding",
        a.answer_name, enum_name(kPatchMetricNames, metric), a.clean_metric, a.corrupt_metric));

  const PatchSites sites = patch_sites(model);
  Recording recording;
  record_run(framing, sites, clean, a.forced, recording);
  // Fills one grid row: the spot at every position.
  const auto patch_row = [&](PatchGrid& grid, PatchSpot spot, int64_t positions) {
    for (int64_t p = 0; p < positions; ++p) {
      spot.position = p;
      const Framing::ForcedRun run =
          patched_run(framing, sites, corrupt, a.forced, recording, spot);
      check_finite(run, "patched");
      const double value = measure(run.next);
      grid.log_prob.push_back(run.next[size_t(a.answer)]);
      grid.metric.push_back(value);
      grid.restored.push_back((value - a.corrupt_metric) / gap);
    }
  };
  // Grids in the order the model computes them: stack by stack, each
  // stack's sites in block order.
  std::vector<std::string> stacks;
  for (const BlockModule& b : sites.blocks)
    if (std::find(stacks.begin(), stacks.end(), b.stack) == stacks.end()) stacks.push_back(b.stack);
  for (const std::string& stack : stacks)
    for (const auto& [site, site_name] : kBlockSiteNames) {
      std::vector<size_t> in_stack;
      for (size_t i = 0; i < sites.blocks.size(); ++i)
        // A later block's input is the block output before it: only the
        // first block's (the embedded tokens) is a site of its own.
        if (sites.blocks[i].stack == stack && recording.sites.count({i, site}) &&
            (site != BlockSite::Input || sites.blocks[i].layer == 0))
          in_stack.push_back(i);
      if (in_stack.empty()) continue;
      PatchGrid grid{fmt::format("{} {}", stack, site_name), stack, site_name, "block"};
      const std::string& path = sites.blocks[in_stack[0]].path;
      grid.clean_tokens = tokens_of(clean_run.trace, path);
      grid.corrupt_tokens = tokens_of(corrupt_run.trace, path);
      const int64_t positions = recording.sites.at({in_stack[0], site}).size(1);
      grid.clean_tokens.resize(size_t(positions));
      grid.corrupt_tokens.resize(size_t(positions));
      for (size_t i : in_stack) {
        grid.blocks.push_back(sites.blocks[i].layer);
        grid.heads.push_back(-1);
        patch_row(grid, {i, site, -1, -1}, positions);
      }
      result.grids.push_back(std::move(grid));
    }
  if (!heads) return result;
  std::vector<std::string> kinds;
  for (const AttentionModule& m : sites.attentions)
    if (std::find(kinds.begin(), kinds.end(), m.kind) == kinds.end()) kinds.push_back(m.kind);
  for (const std::string& kind : kinds) {
    PatchGrid grid{kind + " heads", kind, "head", "block.head"};
    int64_t positions = 0;
    for (size_t i = 0; i < sites.attentions.size(); ++i) {
      const AttentionModule& m = sites.attentions[i];
      if (m.kind != kind || !recording.heads.count(i)) continue;
      if (grid.blocks.empty()) {
        positions = recording.heads.at(i).size(1);
        grid.clean_tokens = query_tokens(clean_run.trace, m);
        grid.corrupt_tokens = query_tokens(corrupt_run.trace, m);
        grid.clean_tokens.resize(size_t(positions));
        grid.corrupt_tokens.resize(size_t(positions));
      }
      for (int64_t h = 0; h < m.attention->heads(); ++h) {
        grid.blocks.push_back(m.layer);
        grid.heads.push_back(h);
        patch_row(grid, {i, BlockSite::Output, h, -1}, positions);
      }
    }
    if (!grid.blocks.empty()) result.grids.push_back(std::move(grid));
  }
  return result;
}

report::Table patch_table(const PatchResult& result, size_t per_grid) {
  report::Table table{
      {"where", "row", "position", "token (clean|corrupt)", "restored", "log P(answer)"}};
  for (const PatchGrid& g : result.grids) {
    const size_t positions = g.clean_tokens.size();
    std::vector<size_t> order(g.restored.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t x, size_t y) { return g.restored[x] > g.restored[y]; });
    for (size_t k = 0; k < std::min(per_grid, order.size()); ++k) {
      const size_t cell = order[k], pos = cell % positions;
      const std::string& c = g.clean_tokens[pos];
      const std::string& r = g.corrupt_tokens[pos];
      table.rows.push_back({g.title, g.row_label(cell / positions), std::to_string(pos),
                            report::visible_token(c == r ? c : c + "|" + r),
                            fmt::format("{:.3f}", g.restored[cell]),
                            fmt::format("{:.4f}", g.log_prob[cell])});
    }
  }
  return table;
}

report::Svg patch_picture(const PatchResult& result, const std::string& title) {
  std::vector<report::GridPanel> panels;
  for (const PatchGrid& g : result.grids) {
    report::GridPanel panel;
    panel.title = g.title;
    panel.row_title = g.row_title;
    panel.col_title = "position (clean|corrupt token)";
    for (size_t r = 0; r < g.blocks.size(); ++r) panel.row_labels.push_back(g.row_label(r));
    for (size_t p = 0; p < g.clean_tokens.size(); ++p)
      panel.col_labels.push_back(g.clean_tokens[p] == g.corrupt_tokens[p]
                                     ? g.clean_tokens[p]
                                     : g.clean_tokens[p] + "|" + g.corrupt_tokens[p]);
    panel.values = g.restored;
    panels.push_back(std::move(panel));
  }
  const PatchAnswer& a = result.answer;
  const std::string caption = fmt::format(
      "{}: \"{}\" (clean) vs \"{}\" (corrupt); answer '{}' after \"{}\" (corrupt writes '{}')",
      title, result.clean, result.corrupt, a.answer_name, a.forced_text, a.contrast_name);
  const report::ColourScale colours{
      0, 1, false,
      fmt::format("share of the answer's {} gap restored by the clean activation",
                  result.metric == PatchMetric::LogProb ? "log-probability" : "logit-difference")};
  return report::grid_heatmaps(
      caption, panels, colours,
      fmt::format("{}: clean {:.3f}, corrupt {:.3f}; values below 0 or above 1 show as the ends "
                  "of the scale",
                  result.metric == PatchMetric::LogProb
                      ? std::string("log P(answer)")
                      : fmt::format("log P('{}') - log P('{}')", a.answer_name, a.contrast_name),
                  a.clean_metric, a.corrupt_metric));
}

}  // namespace attnlab::study
