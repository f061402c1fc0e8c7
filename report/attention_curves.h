// Attention statistics against training steps, from the attention lines that
// train --trace-every writes to metrics.jsonl: for attnlab plot --trace.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "report/chart.h"

namespace attnlab::report {

// One measure of one head: (step, value) points.
using StepCurve = std::vector<std::pair<double, double>>;

struct MapCurves {
  std::string name, kind;
  // Per measure ("entropy", "distance", "special_share", "monotonicity"),
  // per head. A map without a measure (cross-attention has no distance)
  // has no entry for it.
  std::vector<std::pair<std::string, std::vector<StepCurve>>> measures;
};

struct AttentionCurves {
  std::string name;  // the run directory's name
  std::vector<MapCurves> maps;
  std::vector<std::string> warnings;  // lines skipped, with file:line
};

// Reads the attention lines of `path`; after a resume marker, points after
// the resumed step are dropped (the run logs them again). Throws
// std::runtime_error naming the file when it is missing or has no
// attention line (with what to pass to train).
AttentionCurves read_attention_curves(const std::string& path);

// Whether any head of any map put weight on special tokens at any step. A
// text's pieces have none, and a panel of zeros would only take room.
bool special_share_seen(const AttentionCurves& curves);

// Per map, a row of panels: each head's entropy, its attended distance
// (self-attention) or monotonicity (cross-attention), and, when
// special_share_seen, its share on special tokens, against the step.
std::vector<Panel> attention_panels(const AttentionCurves& curves);

}  // namespace attnlab::report
