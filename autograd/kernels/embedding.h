// Embedding lookup, forward and backward side by side. ids are trusted here:
// the op checks that every id is in [0, V).
#pragma once

#include <cstdint>

namespace attnlab {

// out (n,c) = weight (V,c) rows ids[0..n), overwritten.
template <typename T>
void embedding_forward(T* out, const T* weight, const int32_t* ids, int64_t n, int64_t c);

// dweight (V,c) += dout (n,c) row i into row ids[i], for every i: a
// scatter-add, since ids repeat. It ADDS, so the caller passes a zeroed
// buffer (ctx.new_zero_grad) and the engine accumulates the result, never
// an existing gradient. Repeated ids are added in the order of i for any
// thread count (threads split the columns, not the ids).
template <typename T>
void embedding_backward(T* dweight, const T* dout, const int32_t* ids, int64_t n, int64_t c);

}  // namespace attnlab
