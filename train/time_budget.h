// Fitting a run's step count to a wall-clock budget (--minutes).
#pragma once

#include <algorithm>
#include <cstdint>

namespace attnlab {

// Fits a run's step count to a wall-clock budget (--minutes) from the time
// its steps, evaluations and saves have taken so far.
struct TimeBudget {
  double seconds = 0;  // 0: no budget
  double step_seconds = 0, eval_seconds = 0, save_seconds = 0;
  // train --trace-every N: the last attention statistics' seconds, taken
  // every trace_every steps (0: none, or at each evaluation, in eval_seconds).
  double trace_seconds = 0;
  int64_t trace_every = 0;
  int64_t steps_timed = 0;

  bool active() const { return seconds > 0; }
  double per_step() const { return steps_timed ? step_seconds / double(steps_timed) : 0; }
  // Held back for the final evaluation and save.
  double reserve() const { return eval_seconds + save_seconds + trace_seconds; }
  // Steps that still fit after `elapsed`, each with its share of evaluations.
  int64_t affordable(double elapsed, int64_t eval_every) const {
    const double per = per_step() + (eval_every > 0 ? eval_seconds / double(eval_every) : 0.0) +
                       (trace_every > 0 ? trace_seconds / double(trace_every) : 0.0);
    if (per <= 0) return 0;
    return std::max<int64_t>(0, int64_t((seconds - elapsed - reserve()) / per));
  }
};

}  // namespace attnlab
