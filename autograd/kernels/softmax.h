// Softmax and log-softmax over rows of `c` values, forward and backward side
// by side. Numerically stable (the row max is subtracted). A row whose values
// are all -inf (every key blocked) gives zeros (log-softmax: -inf) instead of
// NaN, and its gradient is zero.
#pragma once

#include <cstdint>

namespace attnlab {

// One row of c values, for kernels that fuse more around the softmax (the
// attention weights): y = softmax(x), y may be x; dx = y * (dy - <dy, y>).
template <typename T>
void softmax_row(T* y, const T* x, int64_t c);
template <typename T>
void softmax_backward_row(T* dx, const T* dy, const T* y, int64_t c);

// y (rows,c) = softmax(x (rows,c)) per row.
template <typename T>
void softmax_forward(T* y, const T* x, int64_t rows, int64_t c);
// dx (rows,c) = y * (dy - <dy, y>) per row, from the forward's y.
template <typename T>
void softmax_backward(T* dx, const T* dy, const T* y, int64_t rows, int64_t c);

// y (rows,c) = x - logsumexp(x) per row.
template <typename T>
void log_softmax_forward(T* y, const T* x, int64_t rows, int64_t c);
// dx (rows,c) = dy - exp(y) * sum(dy) per row, from the forward's y.
template <typename T>
void log_softmax_backward(T* dx, const T* dy, const T* y, int64_t rows, int64_t c);

}  // namespace attnlab
