// Seeded dropout, forward and backward side by side. Element i is kept when
// Generator::uniform(seed, offset + i) >= p, so the mask is a pure function
// of (seed, offset, i): the same for any thread count, and the backward
// recomputes it instead of storing it. A null dx means the gradient is not
// wanted; otherwise dx is overwritten (not added to).
#pragma once

#include <cmath>
#include <cstdint>

#include "autograd/random.h"

namespace attnlab {

// The mask in integers, so that loops over it vectorise. Generator::uniform
// is k 2^-53 for k, the top 53 bits of the mixed counter, and k 2^-53 < p
// exactly when k < ceil(p 2^53) (scaling by 2^53 is exact).
inline uint64_t dropout_threshold(double p) {
  return uint64_t(std::ceil(p * 0x1p53));
}
// Whether the element of `counter` in the stream of `seed` is dropped:
// Generator::uniform(seed, counter) < p, with threshold = dropout_threshold(p).
inline bool dropout_drops(uint64_t seed, uint64_t counter, uint64_t threshold) {
  return (splitmix64_mix(seed * kSplitmix64Step + counter + kUniformStreamOffset) >> 11) <
         threshold;
}

// y (n) = x (n) / (1 - p) where kept, else 0.
template <typename T>
void dropout_forward(T* y, const T* x, int64_t n, double p, uint64_t seed, uint64_t offset);
// dx (n) = dy (n) / (1 - p) where kept, else 0 (the forward's mask).
template <typename T>
void dropout_backward(T* dx, const T* dy, int64_t n, double p, uint64_t seed, uint64_t offset);

}  // namespace attnlab
