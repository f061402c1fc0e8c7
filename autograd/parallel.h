// Every threading policy of attnlab in one place: how many threads kernels
// use, how work is split (parallel_for, parallel_for_dynamic, run_team), how
// threads wait for each other (wait_until), and when parallel work backs off
// to one thread on a busy machine (backing_off, report_parallel_run).
//
// Determinism: parallel_for cuts work into chunks whose boundaries depend
// only on the problem size (never on the thread count), so any kernel that
// keeps each output element's arithmetic inside one chunk gives bit-identical
// results with 1 or N threads. GEMM (kernels/gemm.cpp) makes the same promise
// with its own tiling on top of run_team.
#pragma once

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>

namespace attnlab {

// ---- thread count ---------------------------------------------------------------
// The threads a parallel kernel may use.
inline int thread_count() {
  return omp_get_max_threads();
}
// Sets it for the whole process (the CLI's --threads); n <= 0 leaves it alone.
void set_thread_count(int n);

// Kernels use `n` threads inside the scope; the previous count comes back at
// its end. Tests compare 1 and 2 threads with it.
class ThreadCountScope {
 public:
  explicit ThreadCountScope(int n) : previous_(thread_count()) { set_thread_count(n); }
  ~ThreadCountScope() { set_thread_count(previous_); }
  ThreadCountScope(const ThreadCountScope&) = delete;
  ThreadCountScope& operator=(const ThreadCountScope&) = delete;

 private:
  int previous_;
};

// ---- how many threads to use now -------------------------------------------------------
// The threads a parallel region should start now: thread_count(), but fewer
// while other programs keep cores busy, and 1 inside a parallel region or
// while backing off (below).
//
// Why: every parallel region ends in a barrier, so a team with a thread on a
// core that another program holds waits for the OS to schedule that thread,
// up to a time slice per region. With one busy program on 2 cores a 2-thread
// step took twice as long as a 1-thread step. So the runtime looks, at most
// every 100 ms, at how many threads of other programs are runnable (Linux
// /proc/stat's procs_running less this process's running threads) and
// leaves those cores to them.
int team_size();
// Turns that adaptation off (or on again), e.g. for a test that must run
// with exactly the threads it asked for. On by default.
void set_adapt_to_load(bool on);
// Replaces the probe of free cores (for tests); nullptr restores /proc.
void set_free_cpus_probe(int (*probe)());

// ---- splitting work ----------------------------------------------------------------

// Calls body(begin, end) over [0, n) in chunks of at least `grain` items.
// Runs serially when the whole range fits in one chunk or when already inside
// a parallel region (nested teams only oversubscribe the cores).
template <typename Body>
void parallel_for(int64_t n, int64_t grain, Body&& body) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t chunks = (n + grain - 1) / grain;
  const int team = chunks == 1 ? 1 : team_size();
  if (team == 1) {
    body(int64_t{0}, n);
    return;
  }
#pragma omp parallel for schedule(static) num_threads(team)
  for (int64_t c = 0; c < chunks; ++c) body(c * grain, std::min(n, (c + 1) * grain));
}

// Calls body(i) for every i in [0, n), handing out one index at a time to
// whichever thread is free: for a few large items of uneven cost (the
// products of a batched GEMM). The first exception is rethrown after the
// loop (an exception must not leave an OpenMP region).
template <typename Body>
void parallel_for_dynamic(int64_t n, Body&& body) {
  std::exception_ptr error;
  const int team = team_size();
#pragma omp parallel for schedule(dynamic, 1) num_threads(team)
  for (int64_t i = 0; i < n; ++i) {
    try {
      body(i);
    } catch (...) {
#pragma omp critical(attnlab_parallel_for_dynamic_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

// Runs body(thread_index, team_size) on a team of `threads` threads (the
// caller among them) and returns when all are done. The body must not throw:
// allocate before the team starts.
extern std::atomic<int64_t> g_teams_started;
template <typename Body>
void run_team(int threads, Body&& body) {
  if (threads > 1) g_teams_started.fetch_add(1, std::memory_order_relaxed);
#pragma omp parallel num_threads(threads)
  body(omp_get_thread_num(), omp_get_num_threads());
}
// How many teams of more than one thread run_team has started: lets a test
// see that a "2 threads" run really ran in parallel.
inline int64_t teams_started() {
  return g_teams_started.load(std::memory_order_relaxed);
}

// ---- waiting ------------------------------------------------------------------------
// Waits until counter >= target and returns the nanoseconds spent waiting.
// It yields the core while it waits: OpenMP's own barriers spin without
// yielding, which starves a descheduled teammate that shares this core.
int64_t wait_until(const std::atomic<int64_t>& counter, int64_t target);

// ---- contention back-off ----------------------------------------------------------
// On a machine shared with other work the OS deschedules threads for
// milliseconds at a time, and a parallel kernel then mostly waits for a
// straggling teammate. A kernel reports each parallel run; when a run spent a
// good part of its time waiting, backing_off() is true for a while (10 ms at
// first, doubling up to 0.2 s while the contention persists) and kernels run
// on one thread meanwhile. Results do not depend on it; only speed does.
bool backing_off();
void report_parallel_run(int64_t elapsed_ns, int64_t waited_ns);

// Elements per chunk for cheap element-wise loops: enough work to amortise
// waking a thread.
inline constexpr int64_t kElementwiseGrain = 1 << 14;

// Rows per chunk for per-row kernels (softmax, norms) of row length `cols`.
inline int64_t row_grain(int64_t cols) {
  return std::max<int64_t>(1, (1 << 14) / std::max<int64_t>(cols, 1));
}

// Calls row(r) for every row of a (rows, cols) problem, rows split as
// parallel_for splits them: for kernels whose rows are independent.
template <typename Row>
void parallel_rows(int64_t rows, int64_t cols, Row&& row) {
  parallel_for(rows, row_grain(cols), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) row(r);
  });
}

}  // namespace attnlab

namespace attnlab {

// Flushes denormal floats to zero on the calling thread and on every OpenMP
// worker. Tiny values (Adam's second moments, exp of very negative attention
// scores) otherwise fall into the denormal range, where x86 arithmetic is
// ~100x slower and a training run slows to a crawl mid-way.
void flush_denormals_to_zero();

}  // namespace attnlab
