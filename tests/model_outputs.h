// What tests of the study tools compare: model outputs as flat vectors, and
// made-up token ids.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

#include "autograd/ops.h"

namespace model_outputs {

// ids (B,T) of ordinary tokens (never the 6 special ids), varied by `first`
// and `stride`.
inline attnlab::IntTensor ids(int64_t b, int64_t t, int32_t first, int32_t vocab,
                              int32_t stride = 7) {
  attnlab::IntTensor x{{b, t}, {}};
  for (int64_t i = 0; i < b * t; ++i)
    x.data.push_back(int32_t((first + stride * i) % (vocab - 6) + 6));
  return x;
}

inline double largest_difference(const std::vector<double>& a, const std::vector<double>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

}  // namespace model_outputs
