// Stable 64-bit mixing and hashing, the same on every platform (std::hash is
// not): the dropout stream, the data generators' seeds, task splits and the
// checkpoint checksum all build on these two.
#pragma once

#include <cstddef>
#include <cstdint>

namespace attnlab {

// splitmix64's output function: a bijective mixer whose every output bit
// depends on every input bit.
constexpr uint64_t splitmix64_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
// splitmix64's state step: the golden-ratio increment.
inline constexpr uint64_t kSplitmix64Step = 0x9E3779B97F4A7C15ULL;

// FNV-1a (64-bit) over `bytes` bytes, continuing from `hash` (start with
// kFnvOffset).
inline constexpr uint64_t kFnvOffset = 0xCBF29CE484222325ULL;
inline uint64_t fnv1a(uint64_t hash, const void* data, std::size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < bytes; ++i) hash = (hash ^ p[i]) * 0x100000001B3ULL;
  return hash;
}

}  // namespace attnlab
