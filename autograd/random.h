// Random numbers that depend only on (seed, counter): every element of a
// random tensor is a pure function of its position, so results are the same
// for any thread count and a checkpoint only has to store (seed, offset).
#pragma once

#include <cstdint>

#include "autograd/tensor.h"
#include "common/hash.h"

namespace attnlab {

// Added to every counter: the uniform stream's own constant, apart from the
// other uses of splitmix64 (common/hash.h).
inline constexpr uint64_t kUniformStreamOffset = 0x632BE59BD9B4E019ULL;

struct Generator {
  uint64_t seed = 0;
  uint64_t offset = 0;  // counters consumed so far
  // Uniform in [0, 1) for (seed, counter): SplitMix64's finaliser. Inline:
  // the attention kernels draw one per weight.
  static double uniform(uint64_t seed, uint64_t counter) {
    const uint64_t z = splitmix64_mix(seed * kSplitmix64Step + counter + kUniformStreamOffset);
    return static_cast<double>(z >> 11) * 0x1.0p-53;  // 53 random bits -> [0, 1)
  }
  // Next value of this stream (advances offset by 1).
  double next_uniform() { return uniform(seed, offset++); }
};

// Fresh leaves filled from the generator (each advances gen.offset).
Tensor rand_uniform(const Shape& shape, Generator& gen, double lo, double hi,
                    DType dtype = DType::F32);
Tensor rand_normal(const Shape& shape, Generator& gen, double mean, double stddev,
                   DType dtype = DType::F32);

}  // namespace attnlab
