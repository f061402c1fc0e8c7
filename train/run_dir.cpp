#include "train/run_dir.h"

#include "common/errors.h"
#include "data/read_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace attnlab {

namespace fs = std::filesystem;

namespace {

// The run could not start for a reason outside the command (exit 1).
[[noreturn]] void fail(const std::string& dir, const std::string& what) {
  throw std::runtime_error(fmt::format("--out {}: {}", dir, what));
}

// --out names what the user must change: nothing was done (exit 2).
[[noreturn]] void refuse(const std::string& dir, const std::string& what) {
  throw InputError(fmt::format("--out {}: {}", dir, what));
}

std::string errno_text(int err) {
  return std::strerror(err);
}

// "pid 1234 on host, since 2026-12-01 08:00:00": who holds the lock, as
// written by the holder.
std::string describe_holder(int fd) {
  char buf[512] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  std::string text = n > 0 ? std::string(buf, size_t(n)) : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text.empty() ? "another process (it has not said which yet)" : text;
}

std::string host_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) return "this host";
  return host;
}

std::string now_text() {
  const std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
  return buf;
}

// "runs/a/" -> "runs/a", so that its parent is "runs".
fs::path without_trailing_slash(const std::string& path) {
  fs::path p = fs::path(path).lexically_normal();
  return p.has_filename() || !p.has_parent_path() ? p : p.parent_path();
}

}  // namespace

RunDirectory::RunDirectory(std::string path, Mode mode) : path_(std::move(path)) {
  std::error_code ec;
  if (path_.empty()) refuse(path_, "the path is empty");
  if (fs::exists(path_, ec) && !fs::is_directory(path_, ec))
    refuse(path_, "exists and is not a directory");
  if (!fs::exists(path_, ec)) {
    // The outermost directory that does not exist yet is the first this run makes.
    fs::path top = without_trailing_slash(path_);
    while (top.has_parent_path() && top.parent_path() != top && !fs::exists(top.parent_path(), ec))
      top = top.parent_path();
    if (fs::create_directories(path_, ec)) made_top_ = top.string();
  }
  if (ec) fail(path_, fmt::format("cannot create the directory: {}", ec.message()));

  const std::string lock = run_files::in(path_, run_files::kLock);
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) fail(path_, fmt::format("cannot create {}: {}", lock, errno_text(errno)));
  // flock: the kernel releases it when the process ends in any way, so a
  // crashed run never leaves a stale lock behind.
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const std::string holder = err == EWOULDBLOCK ? describe_holder(lock_fd_) : "";
    ::close(lock_fd_);
    lock_fd_ = -1;
    if (err == EWOULDBLOCK)
      refuse(path_, fmt::format("another run is writing here ({}); wait for it to finish, or "
                                "choose another --out",
                                holder));
    fail(path_, fmt::format("cannot lock {}: {}", lock, errno_text(err)));
  }
  const std::string me =
      fmt::format("attnlab train, pid {} on {}, since {}\n", ::getpid(), host_name(), now_text());
  if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, me.data(), me.size(), 0) < 0) {
    // The lock holds without the note; only the message to a second run is poorer.
  }

  if (mode == Mode::Fresh && (fs::exists(checkpoint(), ec) || fs::exists(best(), ec))) {
    const char* what = fs::exists(checkpoint(), ec) ? run_files::kCheckpoint : run_files::kBest;
    ::close(lock_fd_);
    lock_fd_ = -1;
    refuse(path_, fmt::format("already holds a trained model ({}). Continue that run with "
                              "--resume, start over with --overwrite (its checkpoint, best model "
                              "and metrics are replaced), or choose another --out",
                              what));
  }
  // A log with lines in it is a run's record, even of a run that saved nothing.
  if (mode == Mode::Fresh && fs::is_regular_file(metrics(), ec) &&
      fs::file_size(metrics(), ec) > 0) {
    ::close(lock_fd_);
    lock_fd_ = -1;
    refuse(path_, fmt::format("holds the {} of a run that saved no model; start over with "
                              "--overwrite (it is replaced), or choose another --out",
                              run_files::kMetrics));
  }
}

RunDirectory::~RunDirectory() {
  if (lock_fd_ < 0) return;
  if (::ftruncate(lock_fd_, 0) != 0) {
    // Nothing to do: the note is stale at worst, and the lock is released below.
  }
  // A directory this run made and left holding only its lock goes again,
  // with the parents it made for it: the lock file is unlinked while still
  // held, then each directory removed, which fails (and keeps it) if anything
  // else has appeared in it.
  std::error_code ignored;
  bool only_lock = !made_top_.empty();
  for (const auto& entry : fs::directory_iterator(path_, ignored))
    only_lock = only_lock && entry.path().filename() == run_files::kLock;
  if (only_lock) fs::remove(run_files::in(path_, run_files::kLock), ignored);
  ::close(lock_fd_);  // releases the flock
  if (!only_lock) return;
  for (fs::path dir = without_trailing_slash(path_);; dir = dir.parent_path()) {
    if (!fs::remove(dir, ignored) || dir == fs::path(made_top_) || !dir.has_parent_path()) break;
  }
}

const char* run_files::held(const std::string& dir) {
  for (const char* file : {kCheckpoint, kBest, kMetrics})
    if (fs::exists(in(dir, file))) return file;
  return nullptr;
}

std::string run_files::in(const std::string& dir, const char* name) {
  return (fs::path(dir) / name).string();
}

std::string RunDirectory::checkpoint() const {
  return run_files::in(path_, run_files::kCheckpoint);
}
std::string RunDirectory::best() const {
  return run_files::in(path_, run_files::kBest);
}
std::string RunDirectory::metrics() const {
  return run_files::in(path_, run_files::kMetrics);
}

void RunDirectory::check_writable(int64_t bytes) const {
  const std::string probe = (fs::path(path_) / fmt::format(".write-test-{}", ::getpid())).string();
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(path_, fmt::format("cannot write files here: {}", errno_text(errno)));
  ::close(fd);
  ::unlink(probe.c_str());
  struct statvfs st {};
  if (::statvfs(path_.c_str(), &st) == 0) {
    const double free_bytes = double(st.f_bavail) * double(st.f_frsize);
    if (free_bytes < double(bytes))
      fail(path_, fmt::format("its filesystem has {:.1f} MB free, but saving a checkpoint needs "
                              "about {:.1f} MB; free some space or choose another --out",
                              free_bytes / 1e6, double(bytes) / 1e6));
  }
}

void RunDirectory::start_over() const {
  std::error_code ec;
  for (const std::string& file : {checkpoint(), best(), metrics()}) {
    fs::remove(file, ec);
    if (ec) fail(path_, fmt::format("cannot remove the previous run's {}: {}", file, ec.message()));
  }
}

MetricsLog read_metrics_log(const std::string& path) {
  MetricsLog log;
  std::error_code absent;
  if (!fs::exists(fs::symlink_status(path, absent))) return log;
  // As any file the user names: a FIFO, a device or an endless file is
  // refused, not read.
  const std::string text = data::read_regular_file(path, kMaxMetricsLogBytes);
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    if (end == std::string::npos) {  // no newline: the write of this line never finished
      log.torn_line = log.lines.size() + 1;
      log.torn_text = text.substr(start);
      break;
    }
    log.lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return log;
}

}  // namespace attnlab
