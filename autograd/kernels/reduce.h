// Sums (scaled, so that mean is a sum times 1/n), forward and backward side
// by side. Summation order depends only on the sizes, never on the thread
// count (see parallel.h): the full sum adds partial sums over fixed chunks in
// chunk order, the sum over a dim adds rows in order. A null dx means the
// gradient is not wanted; otherwise dx is overwritten (not added to).
#pragma once

#include <cstdint>

namespace attnlab {

// out () = scale * sum of x (n).
template <typename T>
void sum_forward(T* out, const T* x, int64_t n, T scale);
// dx (n) = scale * dy (), every element.
template <typename T>
void sum_backward(T* dx, const T* dy, int64_t n, T scale);

// out (outer, inner) = scale * sum over the middle dim of x (outer, n, inner).
template <typename T>
void sum_dim_forward(T* out, const T* x, int64_t outer, int64_t n, int64_t inner, T scale);
// dx (outer, n, inner) = scale * dy (outer, inner), repeated along the middle dim.
template <typename T>
void sum_dim_backward(T* dx, const T* dy, int64_t outer, int64_t n, int64_t inner, T scale);

}  // namespace attnlab
