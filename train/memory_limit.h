// How much memory this process may use, and the check that a training step
// fits in it before the first step is taken.
#pragma once

#include <string>

namespace attnlab {

// The smallest of the machine's physical memory, the address-space limit
// (`ulimit -v`) and the cgroup's memory.max, with which one it is.
struct MemoryLimit {
  double bytes = 0;
  std::string source;  // "physical memory", "ulimit -v", "the cgroup's memory.max"
};
MemoryLimit process_memory_limit();

// Bytes in binary units, for people: 1536 -> "1.5 KiB", 7.84e9 -> "7.3 GiB".
std::string memory_size(double bytes);

}  // namespace attnlab
