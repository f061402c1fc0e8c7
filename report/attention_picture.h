// One attention map of a trace as a picture: a heatmap per head and the
// average over heads, tokens on both axes (trace --svg and the compare report).
#pragma once

#include "framing/framing.h"
#include "report/svg.h"

namespace attnlab::report {

// average_only: just the average over heads, one panel (a report page).
Svg attention_picture(const Trace& trace, const TraceMap& map, bool average_only = false);

}  // namespace attnlab::report
