#include "layers/positions.h"

#include <fmt/format.h>

#include <cmath>
#include <stdexcept>

namespace attnlab {

namespace {
void check_length(const std::string& where, int64_t length, int64_t offset, int64_t max_len) {
  if (length < 0 || offset < 0 || offset + length > max_len)
    throw std::invalid_argument(fmt::format(
        "{}: positions [{}, {}) exceed the position table of {} entries (max_len); use a "
        "shorter sequence or a larger --max-len",
        where, offset, offset + length, max_len));
}
}  // namespace

LearnedPositions::LearnedPositions(int64_t max_len, int64_t dim, ParamInit& init, double stddev) {
  weight = register_parameter("weight", init.normal({max_len, dim}, stddev));
}

Tensor LearnedPositions::forward(int64_t length, int64_t offset) const {
  check_length(where(), length, offset, weight.size(0));
  return slice(weight, 0, offset, offset + length);  // (T, C)
}

namespace {
void check_positions(const std::string& where, const IntTensor& positions, int64_t max_len) {
  for (int32_t p : positions.data)
    if (p < 0 || p >= max_len)
      throw std::invalid_argument(fmt::format(
          "{}: position {} is outside the table's {} positions (max_len)", where, p, max_len));
}
}  // namespace

Tensor LearnedPositions::at(const IntTensor& positions) const {
  check_positions(where(), positions, weight.size(0));
  return embedding(weight, positions);
}

Tensor SinusoidalPositions::at(const IntTensor& positions) const {
  check_positions(where(), positions, table_.size(0));
  return embedding(table_, positions);
}

SinusoidalPositions::SinusoidalPositions(int64_t max_len, int64_t dim, DType dtype) {
  std::vector<double> v(max_len * dim);
  for (int64_t pos = 0; pos < max_len; ++pos)
    for (int64_t i = 0; i < dim; i += 2) {
      // Wavelengths form a geometric progression from 2*pi to 10000*2*pi.
      double angle = pos / std::pow(10000.0, double(i) / double(dim));
      v[pos * dim + i] = std::sin(angle);
      if (i + 1 < dim) v[pos * dim + i + 1] = std::cos(angle);
    }
  table_ = Tensor::from_vector(v, {max_len, dim}, dtype);
}

Tensor SinusoidalPositions::forward(int64_t length, int64_t offset) const {
  check_length(where(), length, offset, table_.size(0));
  return slice(table_, 0, offset, offset + length);
}

int64_t relative_position_bucket(int64_t relative, bool bidirectional, int64_t num_buckets,
                                 int64_t max_distance) {
  int64_t bucket = 0, n;
  if (bidirectional) {
    num_buckets /= 2;
    if (relative > 0) bucket += num_buckets;  // keys after the query get the upper half
    n = std::abs(relative);
  } else {
    n = std::max<int64_t>(-relative, 0);  // only keys at or before the query exist
  }
  const int64_t max_exact = num_buckets / 2;
  if (n < max_exact) return bucket + n;
  double scaled = std::log(double(n) / max_exact) / std::log(double(max_distance) / max_exact);
  int64_t large = max_exact + static_cast<int64_t>(scaled * (num_buckets - max_exact));
  return bucket + std::min(large, num_buckets - 1);
}

RelativePositionBias::RelativePositionBias(bool bidirectional, int64_t num_buckets,
                                           int64_t max_distance, int64_t heads, ParamInit& init)
    : bidirectional_(bidirectional),
      num_buckets_(num_buckets),
      max_distance_(max_distance),
      heads_(heads) {
  if (num_buckets < 4 || max_distance < num_buckets / 2)
    throw std::invalid_argument(fmt::format(
        "RelativePositionBias: need num_buckets >= 4 and max_distance >= num_buckets/2, got {} "
        "and {}",
        num_buckets, max_distance));
  weight = register_parameter("weight",
                              init.normal({num_buckets, heads}, 1.0 / std::sqrt(double(heads))));
}

Tensor RelativePositionBias::forward(int64_t tq, int64_t tk, int64_t q_offset) const {
  IntTensor buckets{{tq, tk}, std::vector<int32_t>(tq * tk)};
  for (int64_t i = 0; i < tq; ++i)
    for (int64_t j = 0; j < tk; ++j)
      buckets.data[i * tk + j] = static_cast<int32_t>(relative_position_bucket(
          j - (i + q_offset), bidirectional_, num_buckets_, max_distance_));
  Tensor per_pair = embedding(weight, buckets);    // (Tq, Tk, H)
  Tensor per_head = permute(per_pair, {2, 0, 1});  // (H, Tq, Tk)
  return reshape(per_head, {1, heads_, tq, tk});   // (1, H, Tq, Tk)
}

}  // namespace attnlab
