#include "train/memory_limit.h"

#include <fmt/format.h>

#include <fstream>
#include <string>

#include <sys/resource.h>
#include <unistd.h>

namespace attnlab {

MemoryLimit process_memory_limit() {
  MemoryLimit limit{double(::sysconf(_SC_PHYS_PAGES)) * double(::sysconf(_SC_PAGE_SIZE)),
                    "physical memory"};
  struct rlimit as {};
  if (::getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY &&
      double(as.rlim_cur) < limit.bytes)
    limit = {double(as.rlim_cur), "ulimit -v"};
  // cgroup v2: "max" or a byte count.
  std::ifstream cgroup("/sys/fs/cgroup/memory.max");
  std::string text;
  if (cgroup >> text && text != "max") {
    try {
      const double bytes = std::stod(text);
      if (bytes > 0 && bytes < limit.bytes) limit = {bytes, "the cgroup's memory.max"};
    } catch (const std::exception&) {
      // Unreadable: the other limits stand.
    }
  }
  return limit;
}

std::string memory_size(double bytes) {
  static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) bytes /= 1024, ++u;
  return u == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.3g} {}", bytes, units[u]);
}

}  // namespace attnlab
