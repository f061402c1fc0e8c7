// The caching allocator behind tensor storage (autograd/allocator.h).
#include <catch2/catch.hpp>

#include "autograd/allocator.h"
#include "autograd/tensor.h"

using namespace attnlab;

TEST_CASE("allocator: size classes round up by at most an eighth, to multiples of 64 bytes") {
  CHECK(block_size_class(0) == 64);
  CHECK(block_size_class(1) == 64);
  CHECK(block_size_class(64) == 64);
  CHECK(block_size_class(65) == 128);
  CHECK(block_size_class(4096) == 4096);
  CHECK(block_size_class(4097) == 4096 + 512);
  CHECK(block_size_class(8192) == 8192);
  CHECK(block_size_class(8193) == 8192 + 1024);
  CHECK(block_size_class(1000000) == 1048576);  // 2^19 + 4 * 2^16 = 983040 < 1e6
  for (size_t bytes : {size_t(5000), size_t(77777), size_t(123456789)}) {
    const size_t c = block_size_class(bytes);
    CHECK(c >= bytes);
    CHECK(double(c) <= double(bytes) * 1.125 + 64);
    CHECK(c % 64 == 0);
  }
}

TEST_CASE("allocator: a freed block is reused by the next request of its class") {
  release_cached_blocks();
  const BlockCacheStats before = block_cache_stats();
  void* first;
  {
    Tensor a = Tensor::empty({1000, 37});  // 148,000 bytes
    first = a.raw_data();
  }
  CHECK(block_cache_stats().cached_bytes == int64_t(block_size_class(148000)));
  Tensor b = Tensor::empty({1001, 37});  // same class: the same block comes back
  CHECK(b.raw_data() == first);
  CHECK(block_cache_stats().hits == before.hits + 1);
  CHECK(block_cache_stats().cached_bytes == 0);
  CHECK(reinterpret_cast<uintptr_t>(b.raw_data()) % 64 == 0);
}

TEST_CASE("allocator: the cache keeps no more than its limit") {
  release_cached_blocks();
  const int64_t limit = cached_limit();
  set_cached_limit(100000);
  const int64_t kept = int64_t(block_size_class(80000));  // 81,920
  { Tensor a = Tensor::empty({20000}); }                  // 80 KB: kept
  CHECK(block_cache_stats().cached_bytes == kept);
  { Tensor a = Tensor::empty({10000}); }  // 40 KB more would pass the limit: freed
  CHECK(block_cache_stats().cached_bytes == kept);
  set_cached_limit(1000);  // lowering the limit empties the cache
  CHECK(block_cache_stats().cached_bytes == 0);
  set_cached_limit(limit);
}
