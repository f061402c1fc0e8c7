// Shapes and the small helpers every op needs to check and describe them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace attnlab {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
// "(2,3,4)"; the scalar shape prints as "()".
std::string shape_str(const Shape& shape);
// Maps a possibly negative dimension index into [0, rank); throws
// std::invalid_argument naming `op` when it is out of range.
int64_t normalize_dim(const char* op, int64_t dim, int64_t rank);
// The shape both operands broadcast to, aligning trailing dimensions (NumPy
// rules); throws std::invalid_argument naming `op` and both shapes otherwise.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);

// Row-major strides of `shape` seen from an output of rank `out_rank`
// (right-aligned), with 0 where `shape` is broadcast (size 1 or missing).
std::vector<int64_t> broadcast_strides(const Shape& shape, const Shape& out_shape);

}  // namespace attnlab
