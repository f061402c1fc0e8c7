// One attention map of a trace as a picture: a heatmap per head and the
// average over heads, tokens on both axes (trace --svg and the compare report).
#pragma once

#include "report/svg.h"
#include "framing/framing.h"

namespace attnlab {

// average_only: just the average over heads, one panel (a report page).
report::Svg attention_picture(const Trace& trace, const TraceMap& map, bool average_only = false);

}  // namespace attnlab
