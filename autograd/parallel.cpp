#include "autograd/parallel.h"

#include <chrono>
#include <thread>

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#endif

namespace attnlab {

std::atomic<int64_t> g_teams_started{0};

void set_thread_count(int n) {
  if (n > 0) omp_set_num_threads(n);
}

namespace {
using Clock = std::chrono::steady_clock;
int64_t nanoseconds(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}
constexpr int64_t kContendedWaitNs = 200'000, kMinBackoffNs = 10'000'000,
                  kMaxBackoffNs = 200'000'000;
std::atomic<int64_t> g_serial_until_ns{0}, g_backoff_ns{kMinBackoffNs};
std::atomic<int> g_backoff_threads{0};
}  // namespace

int64_t wait_until(const std::atomic<int64_t>& counter, int64_t target) {
  if (counter.load(std::memory_order_acquire) >= target) return 0;
  const auto start = Clock::now();
  while (counter.load(std::memory_order_acquire) < target) std::this_thread::yield();
  return nanoseconds(Clock::now() - start);
}

bool backing_off() {
  // A new thread count (set_thread_count) is taken as the caller's fresh
  // intent: it ends any back-off in progress.
  const int threads = thread_count();
  if (g_backoff_threads.exchange(threads, std::memory_order_relaxed) != threads)
    g_serial_until_ns.store(0, std::memory_order_relaxed);
  return nanoseconds(Clock::now().time_since_epoch()) <
         g_serial_until_ns.load(std::memory_order_relaxed);
}

void report_parallel_run(int64_t elapsed_ns, int64_t waited_ns) {
  if (waited_ns > kContendedWaitNs && waited_ns > elapsed_ns / 4) {
    const int64_t length = g_backoff_ns.load(std::memory_order_relaxed);
    g_serial_until_ns.store(nanoseconds(Clock::now().time_since_epoch()) + length,
                            std::memory_order_relaxed);
    g_backoff_ns.store(std::min(2 * length, kMaxBackoffNs), std::memory_order_relaxed);
  } else {
    g_backoff_ns.store(kMinBackoffNs, std::memory_order_relaxed);
  }
}

void flush_denormals_to_zero() {
#if defined(__SSE__) || defined(__x86_64__)
  auto set = [] { _mm_setcsr(_mm_getcsr() | 0x8040); };  // FTZ (bit 15) | DAZ (bit 6)
  set();
#pragma omp parallel
  set();
#endif
}

}  // namespace attnlab
