// Copy kernels behind the shape ops that move data: permute (and transpose,
// split/merge heads), slice and concat. Pure copies, no arithmetic, so their
// results never depend on the thread count. Every kernel overwrites its
// output; copy_into_slice writes only its slice of it.
#pragma once

#include <cstdint>

namespace attnlab {

// dst = src with its dims reordered: dst dim i is src dim perm[i].
//   src (src_shape[0], ..., src_shape[rank-1]); dst (src_shape[perm[0]], ...).
// The backward of a permute is a permute by the inverse permutation.
template <typename T>
void permute_copy(T* dst, const T* src, const int64_t* src_shape, const int64_t* perm,
                  int64_t rank);

// A tensor seen as (outer, full, inner) and its slice [start, start + len)
// along the middle dim, seen as (outer, len, inner).

// part (outer,len,inner) = whole (outer,full,inner)[:, start:start+len, :].
// slice's forward; concat's backward (each input's share of dout).
template <typename T>
void copy_slice(T* part, const T* whole, int64_t outer, int64_t full, int64_t inner, int64_t start,
                int64_t len);

// whole (outer,full,inner)[:, start:start+len, :] = part (outer,len,inner);
// the rest of whole is left as it was. concat's forward, one input at a time.
template <typename T>
void copy_into_slice(T* whole, const T* part, int64_t outer, int64_t full, int64_t inner,
                     int64_t start, int64_t len);

// dx (outer,full,inner) = dout (outer,len,inner) inside the slice, 0 outside.
template <typename T>
void slice_backward(T* dx, const T* dout, int64_t outer, int64_t full, int64_t inner, int64_t start,
                    int64_t len);

}  // namespace attnlab
