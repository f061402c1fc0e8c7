// How many threads parallel work uses: the requested count, fewer while
// other programs hold cores (autograd/parallel.h team_size).
#include <catch2/catch.hpp>

#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "autograd/parallel.h"

using namespace attnlab;

namespace {

std::atomic<int> g_probe_result{2};
int probe() {
  return g_probe_result.load();
}

// Turns load adaptation on with the fake probe for one test, off again after.
struct AdaptScope {
  AdaptScope() {
    set_free_cpus_probe(&probe);
    set_adapt_to_load(true);
  }
  ~AdaptScope() {
    set_adapt_to_load(false);
    set_free_cpus_probe(nullptr);
  }
};

}  // namespace

TEST_CASE("parallel: the team shrinks to the cores other programs leave free") {
  ThreadCountScope threads(2);
  AdaptScope adapt;
  g_probe_result = 2;
  set_free_cpus_probe(&probe);  // forces a fresh look
  CHECK(team_size() == 2);
  g_probe_result = 1;  // another program holds one of the two cores
  set_free_cpus_probe(&probe);
  CHECK(team_size() == 1);
  // parallel_for then runs its chunks on one thread, with the same results
  std::vector<int> seen(100, 0);
  parallel_for(100, 10, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) seen[size_t(i)] += omp_get_num_threads();
  });
  for (int v : seen) CHECK(v == 1);
  g_probe_result = 8;  // more free cores than asked for: still the requested 2
  set_free_cpus_probe(&probe);
  CHECK(team_size() == 2);
}

TEST_CASE("parallel: without adaptation the team is the requested size") {
  ThreadCountScope threads(2);
  set_adapt_to_load(false);
  CHECK(team_size() == 2);
  ThreadCountScope one(1);
  CHECK(team_size() == 1);
}

TEST_CASE("parallel: the /proc probe sees other programs' busy processes") {
  // As many busy processes as the machine has cores: whatever else runs, the
  // probe finds no core free and the team is 1.
  const int cpus = int(sysconf(_SC_NPROCESSORS_ONLN));
  if (cpus > 16) {
    WARN("skipped: " << cpus << " cores would need as many busy processes");
    return;
  }
  std::vector<pid_t> busy;
  const pid_t parent = getpid();
  for (int i = 0; i < cpus; ++i) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
      if (getppid() != parent) _exit(0);
      volatile uint64_t x = 0;
      for (;;) x = x + 1;
    }
    busy.push_back(pid);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // let them start running
  ThreadCountScope threads(64);
  set_free_cpus_probe(nullptr);
  set_adapt_to_load(true);
  const int team = team_size();
  set_adapt_to_load(false);
  for (pid_t pid : busy) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
  CHECK(team == 1);
}
