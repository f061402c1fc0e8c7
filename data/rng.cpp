#include "data/rng.h"

#include <stdexcept>

namespace attnlab::data {
namespace {

uint64_t rotate_left(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

}  // namespace

uint64_t splitmix64(uint64_t& state) {
  state += kSplitmix64Step;
  return splitmix64_mix(state);
}

uint64_t mix_seeds(uint64_t a, uint64_t b) {
  uint64_t state = a;
  const uint64_t first = splitmix64(state);
  state = first ^ b;
  return splitmix64(state);
}

Rng::Rng(uint64_t seed) {
  // splitmix64 never yields four zero words in a row, the one state xoshiro must avoid.
  for (uint64_t& word : state_) word = splitmix64(seed);
}

uint64_t Rng::next() {
  const uint64_t result = rotate_left(state_[1] * 5, 7) * 9;
  const uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotate_left(state_[3], 45);
  return result;
}

uint64_t Rng::below(uint64_t bound) {
  if (bound == 0) throw std::invalid_argument("Rng::below: bound must be positive");
  // Reject the lowest (2^64 mod bound) values so every residue is equally likely.
  const uint64_t threshold = (0 - bound) % bound;
  while (true) {
    const uint64_t value = next();
    if (value >= threshold) return value % bound;
  }
}

int64_t Rng::between(int64_t low, int64_t high) {
  if (low > high) throw std::invalid_argument("Rng::between: low must not exceed high");
  const uint64_t span = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  const uint64_t offset = span == UINT64_MAX ? next() : below(span + 1);
  return static_cast<int64_t>(static_cast<uint64_t>(low) + offset);
}

}  // namespace attnlab::data
