#include "train/output_file.h"

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/errors.h"
#include "train/run_dir.h"

namespace attnlab {

namespace fs = std::filesystem;

namespace {

bool same_file(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

}  // namespace

void check_output_path(const std::string& path, const std::string& option,
                       const std::vector<std::string>& inputs) {
  if (path.empty()) throw InputError(fmt::format("{}: the path is empty", option));
  const fs::path target(path);
  const fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code error;
  if (!fs::is_directory(parent, error))
    throw InputError(
        fmt::format("{} {}: the directory '{}' does not exist", option, path, parent.string()));
  const std::string name = target.filename().string();
  for (const char* run_file :
       {run_files::kCheckpoint, run_files::kBest, run_files::kMetrics, run_files::kLock})
    if (name == run_file)
      throw InputError(fmt::format(
          "{} {}: '{}' is the name of a run directory's file; choose another name, so that no "
          "run's {} is replaced",
          option, path, name, name));
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;  // a new file
  if (S_ISDIR(st.st_mode))
    throw InputError(fmt::format("{} {}: is a directory, not a file", option, path));
  if (!S_ISREG(st.st_mode))
    throw InputError(fmt::format(
        "{} {}: is a device, FIFO or socket, not a regular file; attnlab writes files only", option,
        path));
  for (const std::string& input : inputs) {
    struct stat in {};
    if (::stat(input.c_str(), &in) == 0 && same_file(st, in))
      throw InputError(
          fmt::format("{} {}: is the file this command reads ({}); writing it would destroy it",
                      option, path, input));
  }
}

PendingFile::PendingFile(std::string path) : path_(std::move(path)) {
  static std::atomic<int> counter{0};
  temporary_ = fmt::format("{}.tmp-{}-{}", path_, ::getpid(), counter++);
}

PendingFile::~PendingFile() {
  if (!published_) ::unlink(temporary_.c_str());
}

void PendingFile::publish() {
  const int fd = ::open(temporary_.c_str(), O_RDONLY | O_CLOEXEC);
  const bool synced = fd >= 0 && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!synced || ::rename(temporary_.c_str(), path_.c_str()) != 0)
    throw std::runtime_error(fmt::format("cannot write {}: {}", path_, std::strerror(errno)));
  published_ = true;
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  PendingFile file(path);
  const int fd = ::open(file.temporary().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    throw std::runtime_error(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(n < 0 ? errno : ENOSPC);
      ::close(fd);
      throw std::runtime_error(fmt::format("cannot write {} ({} of {} bytes written): {}", path,
                                           done, bytes.size(), why));
    }
    done += size_t(n);
  }
  if (::close(fd) != 0)
    throw std::runtime_error(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  file.publish();
}

}  // namespace attnlab
