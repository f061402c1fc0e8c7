// Iteration over a broadcast result: visits every output element o together
// with the operand elements ia and ib that produce it. Operand strides come
// from broadcast_strides (0 along broadcast dims).
#pragma once

#include <vector>

#include "autograd/parallel.h"
#include "autograd/shape.h"

namespace attnlab {

namespace detail {
// Calls body(o, ia, ib) for the rows [row_lo, row_hi) of the output seen as
// (rows, last) where last is the output's last dimension.
template <typename Body>
void broadcast_rows(const Shape& out, const std::vector<int64_t>& sa,
                    const std::vector<int64_t>& sb, int64_t row_lo, int64_t row_hi, Body& body) {
  const int64_t rank = static_cast<int64_t>(out.size());
  if (rank == 0) {
    body(int64_t{0}, int64_t{0}, int64_t{0});
    return;
  }
  const int64_t last = out[rank - 1];
  const int64_t la = sa[rank - 1], lb = sb[rank - 1];
  for (int64_t row = row_lo; row < row_hi; ++row) {
    int64_t ia = 0, ib = 0, rest = row;
    for (int64_t d = rank - 2; d >= 0; --d) {  // decompose the row index
      int64_t idx = rest % out[d];
      rest /= out[d];
      ia += idx * sa[d];
      ib += idx * sb[d];
    }
    const int64_t o = row * last;
    for (int64_t j = 0; j < last; ++j) body(o + j, ia + j * la, ib + j * lb);
  }
}

inline int64_t broadcast_row_count(const Shape& out) {
  if (out.empty()) return 1;
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < out.size(); ++d) rows *= out[d];
  return rows;
}
}  // namespace detail

// Parallel over rows: body must only write element o (or per-o state).
template <typename Body>
void broadcast_for_each(const Shape& out, const std::vector<int64_t>& sa,
                        const std::vector<int64_t>& sb, Body&& body) {
  int64_t rows = detail::broadcast_row_count(out);
  int64_t last = out.empty() ? 1 : out.back();
  parallel_for(rows, row_grain(last),
               [&](int64_t lo, int64_t hi) { detail::broadcast_rows(out, sa, sb, lo, hi, body); });
}

// Serial, in output order: for bodies that accumulate into shared elements.
template <typename Body>
void broadcast_for_each_serial(const Shape& out, const std::vector<int64_t>& sa,
                               const std::vector<int64_t>& sb, Body&& body) {
  detail::broadcast_rows(out, sa, sb, 0, detail::broadcast_row_count(out), body);
}

}  // namespace attnlab
