// What the fuzz targets share: a private scratch directory for the files they
// hand to the readers, and the check that a refusal names where the problem
// is. A broken expectation aborts, which libFuzzer reports as a crash with the
// input that caused it.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace attnlab::fuzz {

// /tmp/attnlab-fuzz-<pid>/<name> (TMPDIR is honoured), removed at exit.
inline std::string scratch_path(const std::string& name) {
  static const std::filesystem::path dir = [] {
    std::filesystem::path d =
        std::filesystem::temp_directory_path() / ("attnlab-fuzz-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    static const std::filesystem::path to_remove = d;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(to_remove, ec);
    });
    return d;
  }();
  return (dir / name).string();
}

inline void write_file(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out.flush()) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
}

[[noreturn]] inline void violated(std::string_view expectation, std::string_view detail) {
  std::fprintf(stderr, "fuzz: expectation broken: %.*s\n  %.*s\n", int(expectation.size()),
               expectation.data(), int(detail.size()), detail.data());
  std::abort();
}

// Every refusal of a file must say which file it is.
inline void expect_names(const std::exception& e, const std::string& path) {
  if (std::string_view(e.what()).find(path) == std::string_view::npos)
    violated("the message names the file " + path, e.what());
}

}  // namespace attnlab::fuzz
