// Running the attnlab executable from tests, as a user would: in the
// foreground with its output captured, or in the background to signal it.
#pragma once

#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/json.h"

namespace cli_test {

namespace fs = std::filesystem;

struct Run {
  int exit_code;
  std::string output;  // stdout and stderr
};

// Runs a shell command line and waits for it.
inline Run run_shell(const std::string& command_line) {
  const std::string cmd = command_line + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  REQUIRE(pipe);
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// Runs `attnlab <args>` with one OpenMP thread and waits for it.
inline Run run(const std::string& args) {
  return run_shell(fmt::format("OMP_NUM_THREADS=1 {} {}", ATTNLAB_BINARY, args));
}

// Runs `attnlab <args>` like run(), after the shell commands in `setup`
// (a limit for that process alone, such as "ulimit -v 655360").
inline Run run_after(const std::string& setup, const std::string& args) {
  return run_shell(fmt::format("{}; OMP_NUM_THREADS=1 {} {}", setup, ATTNLAB_BINARY, args));
}

inline fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / fmt::format("attnlab_cli_{}_{}", name, ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Starts `attnlab <args>` in the background (output to `log`); returns its pid.
inline pid_t spawn(const std::string& args, const fs::path& log) {
  const std::string cmd = fmt::format("exec {} {} > {} 2>&1", ATTNLAB_BINARY, args, log.string());
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::setenv("OMP_NUM_THREADS", "1", 1);
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    ::_exit(127);
  }
  return child;
}

// Polls `done` every 50 ms for up to `seconds`; returns whether it came true.
inline bool wait_until(const std::function<bool()>& done, double seconds = 60) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!done()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return true;
}

// A background run's exit: its code, or 128 + the signal that killed it.
inline int wait_exit(pid_t child) {
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The whole file as text ("" when it cannot be read: the caller's checks then fail).
inline std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs `attnlab <args>` in the background and waits at most `seconds` for it
// to end; a run that hangs is killed and reported as -1.
inline Run run_bounded(const std::string& args, const fs::path& log, double seconds = 30) {
  const pid_t child = spawn(args, log);
  int status = 0;
  const bool ended =
      wait_until([&] { return ::waitpid(child, &status, WNOHANG) == child; }, seconds);
  if (!ended) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
    return {-1, read_text(log)};
  }
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(log)};
}

// The JSON objects among the lines of `text` (lines that start with '{'),
// parsed: a line that is not valid JSON fails the test.
inline std::vector<attnlab::Json> json_lines(const std::string& text) {
  std::vector<attnlab::Json> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] != '{') continue;
    INFO(line);
    REQUIRE_NOTHROW(out.push_back(attnlab::Json::parse(line)));
  }
  return out;
}
// The first JSON object among the lines of `text`.
inline attnlab::Json first_json(const std::string& text) {
  const std::vector<attnlab::Json> all = json_lines(text);
  INFO(text);
  REQUIRE(!all.empty());
  return all.front();
}
// A number of a JSON object; NaN for null.
inline double number_of(const attnlab::Json& j) {
  return j.is_null() ? NAN : j.get<double>();
}

// Training is under way once the first progress line reached metrics.jsonl.
inline bool training_logged(const fs::path& run_dir) {
  std::ifstream metrics(run_dir / "metrics.jsonl");
  const std::string text((std::istreambuf_iterator<char>(metrics)),
                         std::istreambuf_iterator<char>());
  return text.find("\"split\": \"train\"") != std::string::npos;
}

// A few seconds of training at most.
inline const char* kTiny =
    "--d-model 32 --heads 2 --d-ff 64 --layers 1 --decoder-layers 1 --train-size 300 "
    "--valid-size 30 --batch-size 16 --eval-examples 30 --quiet";

}  // namespace cli_test
