#include "train/stop_signals.h"

#include <atomic>
#include <csignal>

namespace attnlab {

namespace {

constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};
std::atomic<int> g_received{0};
std::atomic<bool> g_saving{false};
struct sigaction g_previous[3];
void (*g_previous_pipe)(int) = SIG_DFL;

// Async-signal-safe: atomics, signal() and raise() only.
void on_stop_signal(int signal) {
  int none = 0;
  if (g_received.compare_exchange_strong(none, signal)) return;  // the first: save and stop
  if (signal == SIGINT && !g_saving.load()) {                    // a second Ctrl-C: stop now
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
  }
}

}  // namespace

StopSignals::StopSignals() {
  g_received = 0;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // interrupted reads and writes carry on
  for (int i = 0; i < 3; ++i) {
    // A signal ignored when attnlab started stays ignored: `nohup` ignores
    // SIGHUP so that a run outlives its terminal, and a shell ignores SIGINT
    // in the jobs it starts in the background.
    sigaction(kStopSignals[i], nullptr, &g_previous[i]);
    if (g_previous[i].sa_handler != SIG_IGN) sigaction(kStopSignals[i], &action, nullptr);
  }
  // A reader that went away (`attnlab train | head`) makes writes fail with
  // EPIPE, which output ignores, instead of killing an unsaved run.
  g_previous_pipe = std::signal(SIGPIPE, SIG_IGN);
}

StopSignals::~StopSignals() {
  for (int i = 0; i < 3; ++i) sigaction(kStopSignals[i], &g_previous[i], nullptr);
  std::signal(SIGPIPE, g_previous_pipe);
}

int StopSignals::received() {
  return g_received.load();
}

const char* StopSignals::name(int signal) {
  switch (signal) {
    case SIGINT:
      return "SIGINT (Ctrl-C)";
    case SIGTERM:
      return "SIGTERM";
    case SIGHUP:
      return "SIGHUP";
  }
  return "a signal";
}

StopSignals::SavingScope::SavingScope() {
  g_saving = true;
}
StopSignals::SavingScope::~SavingScope() {
  g_saving = false;
}

}  // namespace attnlab
