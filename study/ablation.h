// Removing attention heads and measuring what breaks (attnlab ablate): the
// held-out metric and loss of a model with one head, a set of heads or a
// whole kind of attention removed, against the intact model.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "framing/framing.h"
#include "models/heads.h"
#include "report/svg.h"
#include "report/table.h"

namespace attnlab::study {

// Zero: a removed head outputs zeros. Mean: its output over the held-out
// set, on average, whatever the input (what it says regardless of input).
enum class AblationMode { Zero, Mean };
inline constexpr EnumName<AblationMode> kAblationModeNames[] = {{AblationMode::Zero, "zero"},
                                                                {AblationMode::Mean, "mean"}};

// One ablation: heads of one or more attentions, removed together.
struct Ablation {
  std::string label;  // "cross 1.2", "cross", "decoder self 0"
  std::vector<std::pair<size_t, std::vector<int64_t>>> heads;  // (index into the sites, heads)
};

// --heads: a comma list whose items are removed together. An item is a kind
// (self, cross, latent, or one of encoder-self, decoder-self, cross,
// latent-cross, latent-self), optionally :LAYER and :HEAD ("cross:1:2" is
// head 2 of the cross-attention of block 1). Throws std::invalid_argument
// naming the item and what the model has.
Ablation parse_heads(const std::string& list, const std::vector<AttentionModule>& sites);
// --all-heads: every head of every attention, one at a time.
std::vector<Ablation> every_head(const std::vector<AttentionModule>& sites);

struct AblationResult {
  Ablation ablation;  // empty heads: the intact model
  EvalMetrics metrics;
};

// The held-out metrics of the intact model, then with each ablation. Mean
// ablation first records each attention's mean head outputs over the data.
std::vector<AblationResult> run_ablations(Model& model, const Framing& framing,
                                          const std::vector<data::EncodedExample>& encoded,
                                          const std::vector<Ablation>& ablations, AblationMode mode,
                                          size_t batch_size, size_t max_examples);

// One row per result: what was removed, the headline metric and loss, and
// their change from the intact model.
report::Table ablation_table(const std::vector<AblationResult>& results);

// --all-heads as pictures: per kind of attention, a blocks x heads grid of
// the change in the headline metric with that head alone removed, on a scale
// where worse is red. Results that remove other than one head are left out.
// `title` heads each picture (the checkpoint and data).
std::vector<std::pair<std::string, report::Svg>> ablation_heatmaps(
    const std::vector<AblationResult>& results, const std::vector<AttentionModule>& sites,
    const std::string& title);

}  // namespace attnlab::study
