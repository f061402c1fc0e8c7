// Where tensor storage comes from: a caching allocator, as in PyTorch's CUDA
// allocator and most training loops written for speed.
//
// Why: a training step allocates the same few hundred buffers, of the same
// sizes, every step. Taking each from malloc and giving it back means large
// buffers are mmap-ed fresh and every page of them faults on first touch; a
// profile of a small GPT step spent 10-15% of its time in the kernel's page
// fault handler. Here a freed block goes to a free list of its size class,
// and the next request of that class takes it back, pages already mapped.
//
// Size classes: requests round up to 64 bytes below 4 KiB, and above that to
// one eighth of their power of two (at most 12.5% slack), so that sizes that
// differ a little (a batch with another sequence length) still share blocks.
//
// Bounds: the cache holds no more free bytes than the most this process ever
// had in use at once, so tensor memory stays below twice its own peak even
// when shapes keep changing (in a training loop it stays at the peak: every
// step reuses the blocks of the step before). It also holds at most
// cached_limit() bytes. A block freed beyond either bound goes back to the
// system. release_cached_blocks() empties the cache.
#pragma once

#include <cstddef>
#include <cstdint>

namespace attnlab {

// A 64-byte aligned block of at least `bytes` bytes (never null: throws
// std::bad_alloc). `capacity` receives the block's size class, which
// free_block needs back.
void* allocate_block(size_t bytes, size_t& capacity);
void free_block(void* block, size_t capacity) noexcept;

// The size class a request of `bytes` rounds up to.
size_t block_size_class(size_t bytes);

struct BlockCacheStats {
  int64_t cached_bytes = 0;  // free blocks held for reuse
  int64_t hits = 0;          // requests served from the cache
  int64_t misses = 0;        // requests that went to the system
};
BlockCacheStats block_cache_stats();
// Frees every cached block to the system.
void release_cached_blocks();
// The most free-block bytes the cache keeps (16 GiB unless changed).
int64_t cached_limit();
void set_cached_limit(int64_t bytes);

}  // namespace attnlab
