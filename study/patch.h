// Activation patching (attnlab patch): where in the model an input's answer
// is carried. The clean input's run is recorded; the corrupt input is run
// again with one block's sublayer output at one position put back from the
// clean run, and what comes back of the clean answer's log-probability is
// measured: 0 is none of the gap between the two runs, 1 all of it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "framing/framing.h"
#include "models/heads.h"
#include "report/svg.h"
#include "report/table.h"

namespace attnlab::study {

// The output the two inputs disagree on: both runs are teacher-forced on the
// clean run's output up to it (`forced`), and there the clean run writes
// `answer` and the corrupt run `contrast`.
struct PatchAnswer {
  std::vector<int32_t> forced;
  int32_t answer = 0, contrast = 0;
  std::string answer_name, contrast_name, forced_text;
  double clean_log_prob = 0, corrupt_log_prob = 0;  // of the answer, in each run
  // The measure restored, in each run: the answer's log-probability, or its
  // logit difference from the contrast.
  double clean_metric = 0, corrupt_metric = 0;
};

// What patching restores: the clean answer's log-probability, or the
// difference between its logit and the corrupt run's answer's (the
// log-probability ratio of the two, which no other token moves).
enum class PatchMetric { LogProb, LogitDiff };
inline constexpr EnumName<PatchMetric> kPatchMetricNames[] = {
    {PatchMetric::LogProb, "logprob"}, {PatchMetric::LogitDiff, "logit-diff"}};

// Where the model can be patched: its blocks' sites and its attentions' heads.
struct PatchSites {
  std::vector<BlockModule> blocks;
  std::vector<AttentionModule> attentions;
};
PatchSites patch_sites(Model& model);

// What a clean run computed: at each site of each block, (block, site) ->
// (1,T,C); and each attention's merged head outputs, attention -> (1,T,H*D).
struct Recording {
  std::map<std::pair<size_t, BlockSite>, Tensor> sites;
  std::map<size_t, Tensor> heads;
};

// One patch: block `index` (into PatchSites::blocks) at `site`, or with
// `head` >= 0 that head of attention `index` (into PatchSites::attentions);
// and the position restored (-1: every position).
struct PatchSpot {
  size_t index = 0;
  BlockSite site = BlockSite::Output;
  int64_t head = -1;
  int64_t position = -1;
};

// The clean run of `text` with `forced`, recorded everywhere.
Framing::ForcedRun record_run(const Framing& framing, const PatchSites& sites,
                              const std::string& text, const std::vector<int32_t>& forced,
                              Recording& recording);
// The run of `text` with `forced` with the spot put back from `recording`.
Framing::ForcedRun patched_run(const Framing& framing, const PatchSites& sites,
                               const std::string& text, const std::vector<int32_t>& forced,
                               const Recording& recording, const PatchSpot& spot);

// One grid of the result, rows x positions: the blocks of a stack at one
// sublayer kind, or every head of one kind of attention.
struct PatchGrid {
  std::string title;                                      // "encoder block output", "cross heads"
  std::string stack;                                      // the stack, or the kind of attention
  std::string sublayer;                                   // BlockSite's name, or "head"
  std::string row_title;                                  // "block", or "block.head"
  std::vector<int64_t> blocks, heads;                     // per row (heads: -1 for sublayers)
  std::vector<std::string> clean_tokens, corrupt_tokens;  // at each position
  std::vector<double> restored;  // (rows, positions): share of the gap restored
  std::vector<double> log_prob;  // (rows, positions): the answer's, patched
  std::vector<double> metric;    // (rows, positions): the measure restored, patched
  std::string row_label(size_t row) const;
};

struct PatchResult {
  std::string clean, corrupt;
  PatchMetric metric = PatchMetric::LogProb;
  PatchAnswer answer;
  std::vector<PatchGrid> grids;
};

// Finds the answer (within `max_steps` outputs), then patches every site of
// every block at every position, and with `heads` every head of every
// attention at every position. Throws std::invalid_argument when the
// inputs' rows differ in length (naming the axis and both lengths), when
// both give the same output, when the measure differs by less than 1e-3
// between the runs (a share of so small a gap is rounding), or when the model cannot be scored one
// output at a time (Framing::run_forced).
PatchResult activation_patching(Model& model, const Framing& framing, const data::Vocab& vocab,
                                const std::string& clean, const std::string& corrupt,
                                bool heads = false, PatchMetric metric = PatchMetric::LogProb,
                                size_t max_steps = 64);

// Per grid, the positions and blocks that restore the most.
report::Table patch_table(const PatchResult& result, size_t per_grid);
// One heatmap per grid, blocks x positions, coloured by the share restored.
report::Svg patch_picture(const PatchResult& result, const std::string& title);

}  // namespace attnlab::study
