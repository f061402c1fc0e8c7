// One attention map of a trace as a picture: a heatmap per head and the
// average over heads, tokens on both axes (trace --svg and the compare report).
#pragma once

#include "framing/framing.h"
#include "report/svg.h"

namespace attnlab::report {

// average_only: just the average over heads, one panel (a report page).
// max_tokens > 0 shows at most that many queries and keys (the first ones),
// and the caption says how many there were.
Svg attention_picture(const Trace& trace, const TraceMap& map, bool average_only = false,
                      size_t max_tokens = 0);

}  // namespace attnlab::report
