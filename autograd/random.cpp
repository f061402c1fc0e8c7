#include "autograd/random.h"

#include <cmath>
#include <numbers>

#include "autograd/parallel.h"

namespace attnlab {

Tensor rand_uniform(const Shape& shape, Generator& gen, double lo, double hi, DType dtype) {
  Tensor t = Tensor::empty(shape, dtype);
  const uint64_t seed = gen.seed, base = gen.offset;
  gen.offset += static_cast<uint64_t>(t.numel());
  dispatch(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    parallel_for(t.numel(), kElementwiseGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) p[i] = T(lo + (hi - lo) * Generator::uniform(seed, base + i));
    });
  });
  return t;
}

Tensor rand_normal(const Shape& shape, Generator& gen, double mean, double stddev, DType dtype) {
  Tensor t = Tensor::empty(shape, dtype);
  const uint64_t seed = gen.seed, base = gen.offset;
  gen.offset += 2 * static_cast<uint64_t>(t.numel());
  dispatch(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    parallel_for(t.numel(), kElementwiseGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {                            // Box-Muller from two counters
        double u1 = 1.0 - Generator::uniform(seed, base + 2 * i);  // (0, 1]: log is finite
        double u2 = Generator::uniform(seed, base + 2 * i + 1);
        p[i] = T(mean +
                 stddev * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2));
      }
    });
  });
  return t;
}

}  // namespace attnlab
