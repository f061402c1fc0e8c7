#include "train/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

namespace attnlab {

void emit(std::FILE* stream, const std::string& text) {
  // Output is best effort: a closed terminal (EIO), a reader that went away
  // (EPIPE) or a full disk must not end a run that can still save its work.
  if (std::fputs(text.c_str(), stream) >= 0) std::fflush(stream);
  std::clearerr(stream);
}

Progress::Mode Progress::detect() {
  return ::isatty(STDOUT_FILENO) ? Mode::Terminal : Mode::Plain;
}

std::string format_duration(double s) {
  if (s < 0 || s != s) return "?";
  const int64_t total = int64_t(s + 0.5);
  if (total < 60) return fmt::format("{}s", total);
  if (total < 3600) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}h{:02}m", total / 3600, (total % 3600) / 60);
}

void Progress::update(const ProgressLine& p) {
  if (mode_ == Mode::Silent) return;
  const std::string text = fmt::format(
      "step {}/{}  loss {:.4f}  lr {:.2e}  {:.0f} tok/s  elapsed {}  eta {}", p.step, p.total,
      p.loss, p.lr, p.tokens_per_s, format_duration(p.elapsed_s), format_duration(p.eta_s));
  if (mode_ == Mode::Plain) {
    if (p.step % every_ == 0 || p.step == p.total) {
      emit(stdout, text + "\n");  // logs and pipes see progress as it happens
    }
    return;
  }
  // Redraw at most 10 times a second: printing must not slow training.
  if (p.step != p.total && last_draw_ >= 0 && p.elapsed_s - last_draw_ < 0.1) return;
  last_draw_ = p.elapsed_s;
  emit(stdout, "\r\033[K" + text);
  live_ = true;
}

void Progress::message(const std::string& text) {
  if (mode_ == Mode::Silent) return;
  emit(stdout, (live_ ? "\r\033[K" : "") + text + "\n");
  live_ = false;
  last_draw_ = -1;
}

void Progress::finish() {
  if (live_) emit(stdout, "\n");
  live_ = false;
}

}  // namespace attnlab
