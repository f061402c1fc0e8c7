// Mean cross-entropy over rows of logits, fused with log-softmax, forward and
// backward side by side. Rows whose target is ignore_index take no part (and
// do not count towards the mean). With label smoothing e the target
// distribution is (1-e) one-hot + e/V. Targets are trusted here: the op checks
// that each is ignore_index or in [0, V). Results do not depend on the thread
// count: row losses are summed in row order.
#pragma once

#include <cstdint>

namespace attnlab {

// loss (scalar) = mean over kept rows of (1-e) * -log p[target] + e * mean_j(-log p[j]),
//   p = softmax of the row; 0 when every row is ignored. Row losses are summed
//   in double.
// lse (rows) = log-sum-exp of each kept row (0 for ignored rows), for the
//   backward.
//   logits (rows,v); targets (rows).
template <typename T>
void cross_entropy_forward(T* loss, T* lse, const T* logits, const int32_t* targets, int64_t rows,
                           int64_t v, int32_t ignore_index, double label_smoothing);

// dlogits (rows,v) = dloss / kept_rows * (softmax(row) - target distribution)
//   for kept rows, 0 for ignored rows (all 0 when every row is ignored);
//   overwritten. dloss is the scalar gradient of the loss; lse comes from the
//   forward.
template <typename T>
void cross_entropy_backward(T* dlogits, const T* dloss, const T* logits, const T* lse,
                            const int32_t* targets, int64_t rows, int64_t v, int32_t ignore_index,
                            double label_smoothing);

}  // namespace attnlab
