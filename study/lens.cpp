#include "study/lens.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "models/heads.h"
#include "report/grid.h"

namespace attnlab::study {

namespace {

// Softmax of one row of logits, in double.
std::vector<double> probabilities(const std::vector<double>& logits) {
  const double top = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(logits.size());
  double sum = 0;
  for (size_t i = 0; i < logits.size(); ++i) sum += p[i] = std::exp(logits[i] - top);
  for (double& x : p) x /= sum;
  return p;
}

}  // namespace

LogitLens logit_lens(const Framing& framing, const data::Vocab& vocab, const std::string& text,
                     int64_t top_k) {
  const Model& model = framing.model();
  if (model.architecture() == Architecture::Classifier)
    throw std::invalid_argument(fmt::format(
        "the logit lens reads a decoder's blocks through its LM head; a {} model has no "
        "decoder (GPT and T5 have one)",
        family_name(model.config().family)));
  // The residual stream before the first decoder block: the embedded
  // tokens, read by the same lens (the trace's last forward is its own).
  Model& mutable_model = const_cast<Model&>(model);
  TransformerBlock* first = nullptr;
  for (const BlockModule& b : block_modules(mutable_model))
    if (b.path == "decoder/layers/0") first = b.block;
  Tensor embedded;
  struct Unhook {
    TransformerBlock* block;
    ~Unhook() {
      if (block) block->set_hook(nullptr);
    }
  } unhook{first};
  if (first)
    first->set_hook([&embedded](BlockSite site, const Tensor& value) {
      if (site == BlockSite::Input) embedded = value.clone();
      return value;
    });
  const Trace trace = framing.trace(text);
  if (first) first->set_hook(nullptr);
  EvalScope scope(mutable_model);
  LogitLens lens;
  lens.input = trace.input;
  lens.output = trace.output;
  lens.sees_ahead = std::max<int64_t>(trace.prefix - 1, 0);
  std::vector<std::pair<std::string, Tensor>> states;  // (T,C) or (1,T,C) each
  if (embedded.defined()) states.emplace_back("embeddings", embedded);
  for (const TraceState& s : trace.states) {
    if (s.name.rfind("decoder/", 0) != 0) continue;
    if (lens.tokens.empty())
      for (const auto& [axis, tokens] : trace.axes)
        if (axis == s.axis) lens.tokens = tokens;
    states.emplace_back(s.name, s.hidden);
  }
  if (states.size() < 2) throw std::invalid_argument("the trace has no decoder block");
  std::vector<std::vector<std::vector<double>>> probs;  // [block][position][token]
  for (const auto& [name, hidden] : states) {
    const Tensor logits = model.lens_logits(hidden);  // (..., C) -> (..., V)
    const int64_t v = logits.size(-1), t = logits.numel() / v;
    const std::vector<double> all = logits.to_vector();
    for (const double x : all)
      if (!std::isfinite(x))
        throw std::invalid_argument(fmt::format(
            "the model's logits after {} are not finite: the checkpoint has diverged", name));
    auto& rows = probs.emplace_back();
    for (int64_t i = 0; i < t; ++i)
      rows.push_back(probabilities({all.begin() + i * v, all.begin() + (i + 1) * v}));
    lens.blocks.push_back(name);
  }
  // The final prediction at each position is the last block's most likely token.
  std::vector<size_t> eventual;
  for (const auto& p : probs.back()) {
    eventual.push_back(size_t(std::max_element(p.begin(), p.end()) - p.begin()));
    lens.eventual.push_back(vocab.token_of(int32_t(eventual.back())));
  }
  for (const auto& block : probs) {
    auto& cells = lens.cells.emplace_back();
    for (size_t pos = 0; pos < block.size(); ++pos) {
      const std::vector<double>& p = block[pos];
      std::vector<size_t> order(p.size());
      std::iota(order.begin(), order.end(), 0);
      const size_t k = std::min<size_t>(size_t(std::max<int64_t>(top_k, 1)), p.size());
      std::partial_sort(order.begin(), order.begin() + k, order.end(),
                        [&](size_t a, size_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
      LensCell cell;
      for (size_t j = 0; j < k; ++j)
        cell.top.push_back({vocab.token_of(int32_t(order[j])), p[order[j]]});
      cell.eventual = p[eventual[pos]];
      cell.eventual_rank = 1;
      for (size_t j = 0; j < p.size(); ++j)
        cell.eventual_rank += p[j] > cell.eventual || (p[j] == cell.eventual && j < eventual[pos]);
      cells.push_back(std::move(cell));
    }
  }
  return lens;
}

ShownPositions shown_positions(size_t positions, size_t cap) {
  ShownPositions s{0, positions, ""};
  if (cap > 0 && positions > cap) {
    s.first = positions - cap;
    s.count = cap;
    s.note = fmt::format("the last {} of {} positions shown", cap, positions);
  }
  return s;
}

std::string lens_row_name(const std::string& state) {
  const size_t at = state.rfind('/');
  return at == std::string::npos ? "embed" : "block " + state.substr(at + 1);
}

std::string lens_note(const LogitLens& lens, const ShownPositions& shown) {
  std::string note;
  if (lens.sees_ahead > 0)
    note += fmt::format(
        "positions 0-{} (*) are a prefix LM's prefix, read both ways: each sees the token it "
        "predicts, so its readings are no predictions",
        lens.sees_ahead - 1);
  if (!shown.note.empty()) note += (note.empty() ? "" : "; ") + shown.note;
  return note;
}

report::Table lens_table(const LogitLens& lens, const ShownPositions& shown) {
  report::Table table{{"pos", "reads", "predicts"}};
  for (const std::string& name : lens.blocks) table.header.push_back(lens_row_name(name));
  for (size_t pos = shown.first; pos < shown.first + shown.count; ++pos) {
    const std::string mark = int64_t(pos) < lens.sees_ahead ? " *" : "";
    std::vector<std::string> row{std::to_string(pos),
                                 report::visible_token(lens.tokens[pos]) + mark,
                                 report::visible_token(lens.eventual[pos])};
    for (const auto& block : lens.cells) {
      const LensCell& c = block[pos];
      row.push_back(
          fmt::format("{:.2f} {}", c.eventual, report::visible_token(c.top.front().first)));
    }
    table.rows.push_back(std::move(row));
  }
  return table;
}

report::Svg lens_picture(const LogitLens& lens, const ShownPositions& shown,
                         const std::string& title) {
  report::GridPanel panel;
  panel.title =
      fmt::format("\"{}\" -> \"{}\": each block's most likely next token", lens.input, lens.output);
  panel.row_title = "block";
  panel.col_title = "position (the token it reads)";
  for (const std::string& name : lens.blocks) panel.row_labels.push_back(lens_row_name(name));
  for (size_t pos = shown.first; pos < shown.first + shown.count; ++pos)
    panel.col_labels.push_back(lens.tokens[pos]);
  for (const auto& block : lens.cells)
    for (size_t pos = shown.first; pos < shown.first + shown.count; ++pos) {
      panel.values.push_back(block[pos].eventual);
      panel.cell_text.push_back(block[pos].top.front().first);
    }
  const report::ColourScale colours{0, 1, false,
                                    "probability of the model's final prediction at that position"};
  std::string note = "cells: each block's most likely token; the last block's are the model's";
  if (const std::string more = lens_note(lens, shown); !more.empty()) note += "; " + more;
  return report::grid_heatmaps(title, {panel}, colours, note);
}

}  // namespace attnlab::study
