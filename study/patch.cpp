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
  const std::vector<BlockModule>& blocks;
  ~HooksCleared() {
    for (const BlockModule& b : blocks) b.block->set_hook(nullptr);
  }
};

// `value` (1,T,C) with row `position` (every row for -1) taken from `clean`.
Tensor restored(const Tensor& value, const Tensor& clean, int64_t position) {
  if (value.shape() != clean.shape())
    throw std::logic_error(fmt::format("patch: the clean run's activation is {}, this run's {}",
                                       shape_str(clean.shape()), shape_str(value.shape())));
  if (position < 0) return clean.clone();
  Tensor out = value.clone();
  const int64_t c = value.size(2);
  const size_t bytes = size_t(c) * (value.dtype() == DType::F64 ? 8 : 4);
  char* to = static_cast<char*>(out.raw_data());
  const char* from = static_cast<const char*>(clean.raw_data());
  std::memcpy(to + size_t(position) * bytes, from + size_t(position) * bytes, bytes);
  return out;
}

std::string visible(const std::string& token) {
  return token == " " ? "\xE2\x90\xA3" : token;  // U+2423: a space that shows
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

Framing::ForcedRun record_run(const Framing& framing, const std::vector<BlockModule>& blocks,
                              const std::string& text, const std::vector<int32_t>& forced,
                              Recording& recording) {
  HooksCleared cleared{blocks};
  for (size_t i = 0; i < blocks.size(); ++i)
    blocks[i].block->set_hook([&recording, i](BlockSite site, const Tensor& value) {
      recording[{i, site}] = value.clone();
      return value;
    });
  return framing.run_forced(text, forced);
}

Framing::ForcedRun patched_run(const Framing& framing, const std::vector<BlockModule>& blocks,
                               const std::string& text, const std::vector<int32_t>& forced,
                               const Recording& recording, const PatchSpot& spot) {
  HooksCleared cleared{blocks};
  const auto clean = recording.find({spot.block, spot.site});
  if (clean == recording.end())
    throw std::logic_error(fmt::format("patch: nothing recorded at {} of {}",
                                       enum_name(kBlockSiteNames, spot.site),
                                       blocks.at(spot.block).path));
  blocks.at(spot.block).block->set_hook([&](BlockSite site, const Tensor& value) {
    return site == spot.site ? restored(value, clean->second, spot.position) : value;
  });
  return framing.run_forced(text, forced);
}

PatchResult activation_patching(Model& model, const Framing& framing, const data::Vocab& vocab,
                                const std::string& clean, const std::string& corrupt,
                                size_t max_steps) {
  PatchResult result{clean, corrupt, {}, {}};
  PatchAnswer& a = result.answer;
  const auto name_of = [&](const Framing::ForcedRun& run, int32_t id) {
    return run.over_labels ? framing.labels().at(size_t(id)) : vocab.token_of(id);
  };
  // The first output the two disagree on, both teacher-forced on the clean one.
  Framing::ForcedRun clean_run, corrupt_run;
  for (size_t step = 0;; ++step) {
    clean_run = framing.run_forced(clean, a.forced);
    corrupt_run = framing.run_forced(corrupt, a.forced);
    if (step == 0) check_same_lengths(clean_run.trace, corrupt_run.trace);
    a.answer = most_likely(clean_run.next);
    a.contrast = most_likely(corrupt_run.next);
    if (a.answer != a.contrast) break;
    if (clean_run.over_labels || a.answer == data::kEosId || step + 1 >= max_steps)
      throw std::invalid_argument(fmt::format(
          "the clean and corrupt inputs give the same output{} ('{}'): there is no answer of "
          "the clean run's for patching to restore",
          clean_run.over_labels ? "" : fmt::format(" for {} steps", step + 1),
          clean_run.over_labels ? name_of(clean_run, a.answer)
                                : vocab.decode(a.forced) + name_of(clean_run, a.answer)));
    a.forced.push_back(a.answer);
  }
  a.answer_name = name_of(clean_run, a.answer);
  a.contrast_name = name_of(clean_run, a.contrast);
  a.forced_text = vocab.decode(a.forced);
  a.clean_log_prob = clean_run.next[size_t(a.answer)];
  a.corrupt_log_prob = corrupt_run.next[size_t(a.answer)];
  const double gap = a.clean_log_prob - a.corrupt_log_prob;
  if (!(gap > 1e-9))
    throw std::invalid_argument(
        fmt::format("the clean answer '{}' is no likelier in the clean run (log-prob {:.4f}) than "
                    "in the corrupt run ({:.4f}): nothing to restore",
                    a.answer_name, a.clean_log_prob, a.corrupt_log_prob));

  const std::vector<BlockModule> blocks = block_modules(model);
  Recording recording;
  record_run(framing, blocks, clean, a.forced, recording);
  // Grids in the order the model computes them: stack by stack, each
  // stack's sites in block order.
  std::vector<std::string> stacks;
  for (const BlockModule& b : blocks)
    if (std::find(stacks.begin(), stacks.end(), b.stack) == stacks.end()) stacks.push_back(b.stack);
  for (const std::string& stack : stacks)
    for (const auto& [site, site_name] : kBlockSiteNames) {
      (void)site_name;
      std::vector<size_t> in_stack;
      for (size_t i = 0; i < blocks.size(); ++i)
        if (blocks[i].stack == stack && recording.count({i, site})) in_stack.push_back(i);
      if (in_stack.empty()) continue;
      PatchGrid grid;
      grid.stack = stack;
      grid.site = site;
      grid.clean_tokens = tokens_of(clean_run.trace, blocks[in_stack[0]].path);
      grid.corrupt_tokens = tokens_of(corrupt_run.trace, blocks[in_stack[0]].path);
      const int64_t positions = recording.at({in_stack[0], site}).size(1);
      grid.clean_tokens.resize(size_t(positions));
      grid.corrupt_tokens.resize(size_t(positions));
      for (size_t i : in_stack) {
        grid.layers.push_back(blocks[i].layer);
        for (int64_t p = 0; p < positions; ++p) {
          const Framing::ForcedRun run =
              patched_run(framing, blocks, corrupt, a.forced, recording, {i, site, p});
          const double lp = run.next[size_t(a.answer)];
          grid.log_prob.push_back(lp);
          grid.restored.push_back((lp - a.corrupt_log_prob) / gap);
        }
      }
      result.grids.push_back(std::move(grid));
    }
  return result;
}

report::Table patch_table(const PatchResult& result, size_t per_grid) {
  report::Table table{
      {"sublayer", "block", "position", "token (clean|corrupt)", "restored", "log P(answer)"}};
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
      table.rows.push_back({fmt::format("{} {}", g.stack, enum_name(kBlockSiteNames, g.site)),
                            std::to_string(g.layers[cell / positions]), std::to_string(pos),
                            visible(c == r ? c : c + "|" + r),
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
    panel.title = fmt::format("{} {}", g.stack, enum_name(kBlockSiteNames, g.site));
    panel.row_title = "block";
    panel.col_title = "position (clean|corrupt token)";
    for (int64_t l : g.layers) panel.row_labels.push_back(std::to_string(l));
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
      0, 1, false, "share of the answer's log-probability gap restored by the clean activation"};
  return report::grid_heatmaps(
      caption, panels, colours,
      fmt::format("log P(answer): clean {:.3f}, corrupt {:.3f}; values below 0 or above 1 show "
                  "as the ends of the scale",
                  a.clean_log_prob, a.corrupt_log_prob));
}

}  // namespace attnlab::study
