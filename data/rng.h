// A small seeded PRNG (xoshiro256** seeded through splitmix64) with its own uniform-integer
// and shuffle routines. std::mt19937 itself is portable but the std:: distributions and
// std::shuffle are not: their output differs between libstdc++, libc++ and MSVC, so datasets and
// batch orders generated from a seed would differ across machines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <utility>

#include "common/hash.h"

namespace attnlab::data {

// Advances `state` and returns the next splitmix64 output (a good 64-bit mixer on its own).
uint64_t splitmix64(uint64_t& state);

// Combines two seeds (e.g. run seed and epoch) into one, so each pair gets its own stream.
uint64_t mix_seeds(uint64_t a, uint64_t b);

using attnlab::fnv1a;  // common/hash.h
using attnlab::kFnvOffset;

class Rng {
 public:
  explicit Rng(uint64_t seed);

  uint64_t next();

  // Uniform in [0, bound), without modulo bias. Throws std::invalid_argument if bound is 0.
  uint64_t below(uint64_t bound);

  // Uniform in [low, high], both inclusive. Throws std::invalid_argument if low > high.
  int64_t between(int64_t low, int64_t high);

  // True with probability numerator / denominator.
  bool chance(uint64_t numerator, uint64_t denominator) { return below(denominator) < numerator; }

  // Fisher-Yates shuffle of any random-access container (vector, span, array).
  template <typename Range>
  void shuffle(Range& items) {
    for (std::size_t i = items.size(); i > 1; --i) {
      using std::swap;
      swap(items[i - 1], items[below(i)]);
    }
  }

  template <typename Container>
  const auto& pick(const Container& items) {
    return items[below(std::size(items))];
  }

 private:
  uint64_t state_[4];
};

}  // namespace attnlab::data
