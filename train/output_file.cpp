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
#include "io/hdf5.h"
#include "train/checkpoint.h"
#include "train/run_dir.h"

namespace attnlab {

namespace fs = std::filesystem;

namespace {

bool same_file(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// A run directory's file names: a path that is one, or a link to one, is refused.
// `target` is where `path` leads: itself, or what a link points to.
void refuse_run_file_name(const fs::path& target, const std::string& path,
                          const std::string& option) {
  const std::string name = target.filename().string();
  for (const char* run_file :
       {run_files::kCheckpoint, run_files::kBest, run_files::kMetrics, run_files::kLock})
    if (name == run_file)
      throw InputError(fmt::format(
          "{} {}: {}'{}' is the name of a run directory's file; choose another name, so that no "
          "run's {} is replaced",
          option, path,
          target == fs::path(path) ? "" : fmt::format("links to {}: ", target.string()), name,
          name));
}

// An existing file that begins as HDF5 files do and is an attnlab
// checkpoint, whatever its name; an HDF5 file that cannot be read may be a
// damaged one, and is kept too.
void refuse_checkpoint(const std::string& path, const std::string& option) {
  static constexpr char kSignature[8] = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};
  char head[8] = {};
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  const bool hdf5 = ::read(fd, head, sizeof head) == ssize_t(sizeof head) &&
                    std::memcmp(head, kSignature, sizeof head) == 0;
  ::close(fd);
  if (!hdf5) return;
  bool checkpoint = true;
  try {
    const H5File f = H5File::open_read(path);
    checkpoint =
        f.has_attribute("/", "format") && f.get_attribute("/", "format") == kCheckpointFormat;
  } catch (const std::exception&) {
  }
  if (checkpoint)
    throw InputError(fmt::format(
        "{} {}: is an attnlab checkpoint (or an HDF5 file that cannot be read); choose another "
        "name, so that no model is replaced",
        option, path));
}

}  // namespace

void prepare_output_directory(const std::string& dir, const std::string& option) {
  if (dir.empty()) throw InputError(fmt::format("{}: the path is empty", option));
  fs::path path = fs::path(dir).lexically_normal();
  if (!path.has_filename() && path.has_parent_path()) path = path.parent_path();  // "pics/"
  const fs::path parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
  std::error_code error;
  if (fs::exists(path, error) && !fs::is_directory(path, error))
    throw InputError(fmt::format("{} {}: exists and is not a directory", option, dir));
  if (!fs::is_directory(parent, error))
    throw InputError(
        fmt::format("{} {}: the directory '{}' does not exist", option, dir, parent.string()));
  fs::create_directory(path, error);
  if (error)
    throw InputError(fmt::format("{} {}: cannot make it: {}", option, dir, error.message()));
}

void check_output_path(const std::string& path, const std::string& option,
                       const std::vector<std::string>& inputs) {
  if (path.empty()) throw InputError(fmt::format("{}: the path is empty", option));
  const fs::path target(path);
  const fs::path parent = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::error_code error;
  if (!fs::is_directory(parent, error))
    throw InputError(
        fmt::format("{} {}: the directory '{}' does not exist", option, path, parent.string()));
  refuse_run_file_name(target, path, option);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;  // a new file
  const fs::path resolved = fs::canonical(target, error);
  if (!error && fs::is_symlink(fs::symlink_status(target, error)))
    refuse_run_file_name(resolved, path, option);
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
  refuse_checkpoint(path, option);
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
