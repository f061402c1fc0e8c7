#include "autograd/allocator.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace attnlab {
namespace {

struct BlockCache {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void*>> free_lists;  // size class -> free blocks
  BlockCacheStats stats;
  int64_t limit = int64_t(16) << 30;
  int64_t in_use = 0;       // bytes of blocks handed out and not freed
  int64_t peak_in_use = 0;  // its largest value
};

// Never destroyed: tensors held by static objects are freed after main
// returns, and must still find the cache.
BlockCache& cache() {
  static BlockCache* c = new BlockCache;
  return *c;
}

}  // namespace

size_t block_size_class(size_t bytes) {
  if (bytes <= 4096) return bytes == 0 ? 64 : (bytes + 63) / 64 * 64;
  size_t power = 4096;  // the largest power of two not above bytes
  while (power <= bytes / 2) power *= 2;
  const size_t step = power / 8;
  return (bytes + step - 1) / step * step;
}

void* allocate_block(size_t bytes, size_t& capacity) {
  capacity = block_size_class(bytes);
  BlockCache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.free_lists.find(capacity);
    if (it != c.free_lists.end() && !it->second.empty()) {
      void* block = it->second.back();
      it->second.pop_back();
      c.stats.cached_bytes -= int64_t(capacity);
      ++c.stats.hits;
      c.in_use += int64_t(capacity);
      c.peak_in_use = std::max(c.peak_in_use, c.in_use);
      return block;
    }
    ++c.stats.misses;
    c.in_use += int64_t(capacity);
    c.peak_in_use = std::max(c.peak_in_use, c.in_use);
  }
  void* block = std::aligned_alloc(64, capacity);
  if (!block) {
    // The cache may hold what the system now lacks: give it back and retry once.
    release_cached_blocks();
    block = std::aligned_alloc(64, capacity);
  }
  if (!block) {
    std::lock_guard<std::mutex> lock(c.mutex);
    c.in_use -= int64_t(capacity);
    throw std::bad_alloc();
  }
  return block;
}

void free_block(void* block, size_t capacity) noexcept {
  if (!block) return;
  BlockCache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    c.in_use -= int64_t(capacity);
    if (c.stats.cached_bytes + int64_t(capacity) <= std::min(c.limit, c.peak_in_use)) {
      try {  // called from destructors: growing the list may fail, freeing may not
        c.free_lists[capacity].push_back(block);
        c.stats.cached_bytes += int64_t(capacity);
        return;
      } catch (const std::bad_alloc&) {
      }
    }
  }
  std::free(block);
}

BlockCacheStats block_cache_stats() {
  BlockCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.stats;
}

void release_cached_blocks() {
  std::unordered_map<size_t, std::vector<void*>> lists;
  {
    BlockCache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    lists.swap(c.free_lists);
    c.stats.cached_bytes = 0;
  }
  for (auto& [size, blocks] : lists)
    for (void* b : blocks) std::free(b);
}

int64_t cached_limit() {
  BlockCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.limit;
}

void set_cached_limit(int64_t bytes) {
  {
    BlockCache& c = cache();
    std::lock_guard<std::mutex> lock(c.mutex);
    c.limit = bytes < 0 ? 0 : bytes;
    if (c.stats.cached_bytes <= c.limit) return;
  }
  release_cached_blocks();
}

}  // namespace attnlab
