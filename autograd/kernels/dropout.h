// Seeded dropout, forward and backward side by side. Element i is kept when
// Generator::uniform(seed, offset + i) >= p, so the mask is a pure function
// of (seed, offset, i): the same for any thread count, and the backward
// recomputes it instead of storing it. A null dx means the gradient is not
// wanted; otherwise dx is overwritten (not added to).
#pragma once

#include <cstdint>

namespace attnlab {

// y (n) = x (n) / (1 - p) where kept, else 0.
template <typename T>
void dropout_forward(T* y, const T* x, int64_t n, double p, uint64_t seed, uint64_t offset);
// dx (n) = dy (n) / (1 - p) where kept, else 0 (the forward's mask).
template <typename T>
void dropout_backward(T* dx, const T* dy, int64_t n, double p, uint64_t seed, uint64_t offset);

}  // namespace attnlab
