// The one way kernels go parallel. Work is cut into chunks whose boundaries
// depend only on the problem size (never on the thread count), so any kernel
// that keeps each output element's arithmetic inside one chunk gives
// bit-identical results with 1 or N threads.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace attnlab {

// Calls body(begin, end) over [0, n) in chunks of at least `grain` items.
// Runs serially when the whole range fits in one chunk or when already inside
// a parallel region (nested teams only oversubscribe the cores).
template <typename Body>
void parallel_for(int64_t n, int64_t grain, Body&& body) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t chunks = (n + grain - 1) / grain;
  if (chunks == 1 || omp_in_parallel() || omp_get_max_threads() == 1) {
    body(int64_t{0}, n);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) body(c * grain, std::min(n, (c + 1) * grain));
}

// Elements per chunk for cheap element-wise loops: enough work to amortise
// waking a thread.
inline constexpr int64_t kElementwiseGrain = 1 << 14;

// Rows per chunk for per-row kernels (softmax, norms) of row length `cols`.
inline int64_t row_grain(int64_t cols) {
  return std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(cols, 1));
}

}  // namespace attnlab

namespace attnlab {

// Flushes denormal floats to zero on the calling thread and on every OpenMP
// worker. Tiny values (Adam's second moments, exp of very negative attention
// scores) otherwise fall into the denormal range, where x86 arithmetic is
// ~100x slower and a training run slows to a crawl mid-way.
void flush_denormals_to_zero();

}  // namespace attnlab
