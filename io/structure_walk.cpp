#include "io/structure_walk.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

#include "common/sanitizers.h"
#include "io/hdf5.h"
#include "io/walker/protocol.h"

extern char** environ;

namespace attnlab::h5 {
namespace {

// The walker is a program of its own, started with posix_spawn. A fork
// without exec would be cheaper to write but not safe: the child of a
// multithreaded process (OpenMP's workers, a sanitizer's or fuzzer's
// threads) may only call async-signal-safe functions, and HDF5 allocates.
//
// A process that never reports that it started was not a walker (something
// else at the walker's path, or a program started through an emulator):
// then the file is read without the walk, with a warning.

constexpr const char* kWalkSecondsVariable = "ATTNLAB_HDF5_WALK_SECONDS";
constexpr double kDefaultWalkSeconds = 60;

// The walker: next to the running program (a copied or installed attnlab),
// else where the build put it.
std::string walker_program() {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) {
    const std::filesystem::path beside = self.parent_path() / kWalkerProgram;
    if (::access(beside.c_str(), X_OK) == 0) return beside.string();
  }
  return ATTNLAB_HDF5_WALKER_PATH;
}

double walk_seconds() {
  const char* text = std::getenv(kWalkSecondsVariable);
  if (!text || !*text) return kDefaultWalkSeconds;
  char* end = nullptr;
  const double seconds = std::strtod(text, &end);
  if (*end != '\0' || !(seconds > 0) || !std::isfinite(seconds))
    throw std::runtime_error(fmt::format(
        "environment variable {}='{}': expected a positive number of seconds (default {})",
        kWalkSecondsVariable, text, kDefaultWalkSeconds));
  return seconds;
}

std::string describe_exit(int status) {
  return WIFSIGNALED(status) ? fmt::format("signal {}", WTERMSIG(status))
                             : fmt::format("exit {}", WEXITSTATUS(status));
}

// The walk cannot run here: say so once, and read files directly, as HDF5
// alone would.
void warn_unwalked(const std::string& path, const std::string& why) {
  static bool warned = false;
  if (warned) return;
  warned = true;
  std::fprintf(stderr,
               "attnlab: warning: HDF5 files cannot be checked in a separate process before "
               "they are read (%s); reading '%s' without that check\n",
               why.c_str(), path.c_str());
}

// A started walker: its pid and the read end of its report pipe.
struct Walker {
  pid_t pid = -1;
  int reports = -1;
};

// Starts `program` to walk `path`; pid -1 if no process could be started (errno).
Walker start_walker(const std::string& program, const std::string& path) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return {};
  // Keep the write end off kReportFd itself: a dup2 onto the same number
  // would keep its close-on-exec flag.
  const int write_end = ::fcntl(pipe_fds[1], F_DUPFD_CLOEXEC, kReportFd + 1);
  ::close(pipe_fds[1]);
  if (write_end < 0) {
    ::close(pipe_fds[0]);
    return {};
  }
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  // Quiet: HDF5's errors and a sanitizer's or glibc's report of the death
  // belong to no one. Only the report pipe stays open: a walker that holds
  // a pipe of attnlab's (a test runner's output) would keep its reader
  // waiting.
  for (int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO})
    posix_spawn_file_actions_addopen(&files, fd, "/dev/null",
                                     fd == STDIN_FILENO ? O_RDONLY : O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&files, write_end, kReportFd);  // dup2 drops O_CLOEXEC
  posix_spawn_file_actions_addclosefrom_np(&files, kReportFd + 1);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // Its own session: Ctrl-C goes to attnlab, which decides (the walker would
  // otherwise die of it and make the file look damaged), and no terminal
  // receives glibc's "double free" message.
  sigset_t none, every;
  sigemptyset(&none);
  sigfillset(&every);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &every);

  const std::string parent = std::to_string(::getpid());
  std::vector<char*> argv{const_cast<char*>(kWalkerProgram), const_cast<char*>(path.c_str()),
                          const_cast<char*>(parent.c_str()), nullptr};
  std::vector<char*> env;
  std::string asan_options;
  for (char** e = environ; *e; ++e) {
#ifdef ATTNLAB_ASAN
    if (std::strncmp(*e, "ASAN_OPTIONS=", 13) == 0) {
      asan_options = *e;
      continue;
    }
#endif
    env.push_back(*e);
  }
  std::string fatal_to_stderr = "LIBC_FATAL_STDERR_=1";
  env.push_back(fatal_to_stderr.data());
#ifdef ATTNLAB_ASAN
  // The address space cannot be bounded under ASan (io/walker/main.cpp):
  // its own limit on resident memory ends a walker that grows past 1 GiB.
  asan_options =
      (asan_options.empty() ? "ASAN_OPTIONS=" : asan_options + ":") + "hard_rss_limit_mb=1024";
  env.push_back(asan_options.data());
#endif
  env.push_back(nullptr);

  Walker walker;
  const int failed =
      posix_spawn(&walker.pid, program.c_str(), &files, &attributes, argv.data(), env.data());
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&files);
  ::close(write_end);
  if (failed) {
    ::close(pipe_fds[0]);
    errno = failed;
    return {};
  }
  walker.reports = pipe_fds[0];
  return walker;
}

bool g_structure_walk = true;

}  // namespace

void walk_structure(const std::string& path) {
  if (!g_structure_walk) return;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;  // the real open reports it
  const auto identity =
      std::make_tuple(st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  static std::set<std::decay_t<decltype(identity)>> walked;
  if (walked.count(identity)) return;
  const double limit = walk_seconds();
  const std::string program = walker_program();
  const Walker walker = start_walker(program, path);
  if (walker.pid < 0)
    return warn_unwalked(path, fmt::format("cannot start {}: {}", program, std::strerror(errno)));

  // The report pipe ends when the walker does (its only copy of the write
  // end closes), so waiting on it waits for the walker, with a deadline: a
  // walker that hangs must not hang attnlab.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(limit);
  std::string said;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(walker.pid, SIGKILL);
      int status = 0;
      while (::waitpid(walker.pid, &status, 0) < 0 && errno == EINTR) {
      }
      ::close(walker.reports);
      throw std::runtime_error(fmt::format(
          "file '{}' is damaged or unreadable: HDF5 did not finish reading its structure within "
          "{:g} s (a very slow disk can also cause this; the environment variable {} sets the "
          "limit)",
          path, limit, kWalkSecondsVariable));
    }
    pollfd wait_for{walker.reports, POLLIN, 0};
    const int ready = ::poll(&wait_for, 1, int(std::min<int64_t>(left.count() + 1, 1 << 30)));
    if (ready == 0 || (ready < 0 && errno == EINTR)) continue;
    char buf[8];
    const ssize_t got = ready > 0 ? ::read(walker.reports, buf, sizeof buf) : -1;
    if (got > 0) {
      said.append(buf, size_t(got));
    } else if (got == 0 || errno != EINTR) {
      break;  // the walker has ended (or the pipe failed: judged by what it said)
    }
  }
  ::close(walker.reports);
  int status = 0;
  pid_t reaped = -1;
  while ((reaped = ::waitpid(walker.pid, &status, 0)) < 0 && errno == EINTR) {
  }
  // With SIGCHLD ignored the exit status is gone (reaped < 0): the reports still tell.
  const std::string how = reaped == walker.pid ? describe_exit(status) : "no exit status";
  if (said.empty()) return warn_unwalked(path, program + " did not run as a walker: " + how);
  if (said.find(kWalkDone) == std::string::npos)
    throw std::runtime_error(fmt::format(
        "file '{}' is damaged: HDF5 fails while reading its structure ({})", path, how));
  walked.insert(identity);
}

}  // namespace attnlab::h5

namespace attnlab {

void set_structure_walk(bool enabled) {
  h5::g_structure_walk = enabled;
}

}  // namespace attnlab
