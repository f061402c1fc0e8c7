// SIGINT (Ctrl-C), SIGTERM (a scheduler, `timeout`, `kill`) and SIGHUP (a
// closed terminal) all ask a run to save and stop. While a StopSignals scope
// lives, the first of them is recorded and the training loop polls it
// between micro-batches; a signal that arrives during the save is ignored,
// so the save finishes. One that was ignored when the scope began (SIGHUP
// under nohup) stays ignored. A second Ctrl-C outside a save ends the process at once, for a
// user who does not want to wait.
#pragma once

namespace attnlab {

class StopSignals {
 public:
  StopSignals();   // installs the handlers
  ~StopSignals();  // restores the previous ones
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // The first stop signal received, or 0.
  static int received();
  // "SIGTERM", ...
  static const char* name(int signal);

  // Marks a save in progress: signals during it are ignored.
  class SavingScope {
   public:
    SavingScope();
    ~SavingScope();
  };
};

}  // namespace attnlab
