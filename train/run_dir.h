// A run directory belongs to one run. It holds
//   checkpoint.h5   the last state: model, optimizer, data position (resume from it)
//   best.h5         the model at the best held-out evaluation so far
//   metrics.jsonl   one JSON object per training log line and evaluation
//   .lock           held (flock) while a run writes here
// RunDirectory takes the lock for the life of the run, refuses to start a
// fresh run over a trained model, and checks before training that the
// directory can take a checkpoint, so that hours of training never end in
// a save that cannot happen.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace attnlab {

// The names of a run directory's files: everything that reads or writes a
// run directory names them through these.
namespace run_files {
inline constexpr const char* kCheckpoint = "checkpoint.h5";
inline constexpr const char* kBest = "best.h5";
inline constexpr const char* kMetrics = "metrics.jsonl";
inline constexpr const char* kLock = ".lock";
// <dir>/<name>
std::string in(const std::string& dir, const char* name);
// The first of checkpoint.h5, best.h5 and metrics.jsonl that `dir` holds
// (nullptr when it holds none): whether a run was there.
const char* held(const std::string& dir);
}  // namespace run_files

class RunDirectory {
 public:
  enum class Mode {
    Fresh,      // refuses a directory that already holds a checkpoint
    Overwrite,  // a new run replaces the old one's files (see start_over)
    Resume,     // continues the run whose checkpoint is there
  };
  // Creates the directory, takes the lock, and checks the mode against what
  // is there. Throws std::runtime_error naming the directory and, for a held
  // lock, the process that holds it.
  RunDirectory(std::string path, Mode mode);
  ~RunDirectory();  // releases the lock; removes a directory it made and left empty
  RunDirectory(const RunDirectory&) = delete;
  RunDirectory& operator=(const RunDirectory&) = delete;

  const std::string& path() const { return path_; }
  std::string checkpoint() const;  // <dir>/checkpoint.h5
  std::string best() const;        // <dir>/best.h5
  std::string metrics() const;     // <dir>/metrics.jsonl

  // Throws std::runtime_error naming the directory unless a file can be
  // created there and its filesystem has room for `bytes` more (a
  // checkpoint is written beside the old one before it replaces it).
  void check_writable(int64_t bytes) const;

  // Overwrite mode: removes the previous run's checkpoint.h5, best.h5 and
  // metrics.jsonl, so that the directory never mixes two runs. Called once the
  // new run has its data and model, so a run that fails to start loses nothing.
  void start_over() const;

 private:
  std::string path_;
  int lock_fd_ = -1;
  // The outermost directory this run made for `path_` (itself or a parent;
  // empty if it made none): if the run ends having written nothing there
  // (refused before its first step), the directories it made go again.
  std::string made_top_;
};

// What a metrics.jsonl holds, line by line. A crash can cut off the last
// line while it is written: it is left out of `lines` and reported in
// `torn_line` (1-based; 0 if none).
struct MetricsLog {
  std::vector<std::string> lines;
  size_t torn_line = 0;
  std::string torn_text;
};
// The longest metrics.jsonl read: a million log lines and more.
inline constexpr size_t kMaxMetricsLogBytes = size_t(512) << 20;
// Reads `path` (an absent file is an empty log). Throws InputError naming it
// when it is not a regular file (a FIFO, a device) or over the limit.
MetricsLog read_metrics_log(const std::string& path);

}  // namespace attnlab
