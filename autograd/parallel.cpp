#include "autograd/parallel.h"

#include <dirent.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
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

namespace {

int usable_cpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
}

// The first integer after `key` in the file, or -1.
int64_t read_count(const char* path, const char* key) {
  FILE* f = std::fopen(path, "r");
  if (!f) return -1;
  char line[512];
  int64_t value = -1;
  const size_t key_length = std::strlen(key);
  while (std::fgets(line, sizeof line, f))
    if (std::strncmp(line, key, key_length) == 0) {
      value = std::atoll(line + key_length);
      break;
    }
  std::fclose(f);
  return value;
}

// This process's threads in state R (running or runnable).
int own_running_threads() {
  DIR* dir = opendir("/proc/self/task");
  if (!dir) return 1;
  int running = 0;
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    const std::string path = std::string("/proc/self/task/") + e->d_name + "/stat";
    FILE* f = std::fopen(path.c_str(), "r");
    if (!f) continue;
    char buffer[512];
    const size_t n = std::fread(buffer, 1, sizeof buffer - 1, f);
    std::fclose(f);
    buffer[n] = 0;
    const char* state = std::strrchr(buffer, ')');  // "pid (comm) S ..."
    if (state && state[1] == ' ' && state[2] == 'R') ++running;
  }
  closedir(dir);
  return std::max(running, 1);  // at least the thread asking
}

// Cores not taken by runnable threads of other programs. procs_running counts
// the whole machine (in a container, usually the host), so the others are
// spread over all its online cores, and this process gets at most the cores
// its affinity allows.
int free_cpus_from_proc() {
  const int64_t runnable = read_count("/proc/stat", "procs_running");
  const int usable = usable_cpus();
  if (runnable < 0) return usable;
  const int64_t online = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
  const int64_t elsewhere = std::max<int64_t>(0, runnable - own_running_threads());
  return int(std::clamp<int64_t>(online - elsewhere, 1, usable));
}

constexpr int64_t kLoadCheckNs = 100'000'000;
std::atomic<bool> g_adapt_to_load{true};
std::atomic<int (*)()> g_free_cpus_probe{nullptr};
std::atomic<int64_t> g_next_load_check_ns{0};
std::atomic<int> g_free_cpus{1 << 20};

}  // namespace

void set_adapt_to_load(bool on) {
  g_adapt_to_load.store(on);
  g_next_load_check_ns.store(0);
}

void set_free_cpus_probe(int (*probe)()) {
  g_free_cpus_probe.store(probe);
  g_next_load_check_ns.store(0);
}

int team_size() {
  const int requested = thread_count();
  if (requested <= 1 || omp_in_parallel() || backing_off()) return 1;
  if (!g_adapt_to_load.load(std::memory_order_relaxed)) return requested;
  const int64_t now = nanoseconds(Clock::now().time_since_epoch());
  if (now >= g_next_load_check_ns.load(std::memory_order_relaxed)) {
    g_next_load_check_ns.store(now + kLoadCheckNs, std::memory_order_relaxed);
    int (*probe)() = g_free_cpus_probe.load();
    g_free_cpus.store(probe ? probe() : free_cpus_from_proc(), std::memory_order_relaxed);
  }
  return std::max(1, std::min(requested, g_free_cpus.load(std::memory_order_relaxed)));
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
