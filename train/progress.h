// Progress output: one live line on a terminal (rewritten in place), a
// plain line every N steps otherwise (logs, CI, pipes).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace attnlab {

// Writes and flushes `text`, ignoring output errors (see progress.cpp).
void emit(std::FILE* stream, const std::string& text);

struct ProgressLine {
  int64_t step, total;
  double loss, lr, tokens_per_s, elapsed_s, eta_s;
};

class Progress {
 public:
  enum class Mode { Terminal, Plain, Silent };
  static Mode detect();  // Terminal when stdout is a TTY
  Progress(Mode mode, int64_t every) : mode_(mode), every_(every) {}
  void update(const ProgressLine& line);
  // A line that must stay visible (evaluations, saves).
  void message(const std::string& text);
  void finish();  // ends the live line

 private:
  Mode mode_;
  int64_t every_;
  bool live_ = false;
  double last_draw_ = -1;
};

std::string format_duration(double seconds);  // "1m05s"

}  // namespace attnlab
