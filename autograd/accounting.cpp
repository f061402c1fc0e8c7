#include "autograd/accounting.h"

#include <atomic>
#include <unordered_set>
#include <vector>

#include "autograd/op.h"

namespace attnlab {

namespace {
thread_local FlopCount* innermost_count = nullptr;
std::atomic<int64_t> live_bytes{0};
std::atomic<int64_t> peak_bytes{0};
}  // namespace

FlopCount::FlopCount() : outer_(innermost_count) {
  innermost_count = this;
}
FlopCount::~FlopCount() {
  if (outer_) outer_->flops_ += flops_;
  innermost_count = outer_;
}

void count_matmul_flops(int64_t batch, int64_t m, int64_t n, int64_t k) {
  if (innermost_count) innermost_count->flops_ += 2.0 * double(batch) * m * n * k;
}

int64_t graph_bytes(const Tensor& root) {
  std::unordered_set<const Storage*> counted;
  std::unordered_set<const TensorImpl*> visited;
  std::vector<const TensorImpl*> pending{root.impl_ptr().get()};
  int64_t bytes = 0;
  auto note = [&](const Tensor& t) {
    if (t.defined() && visited.insert(t.impl_ptr().get()).second)
      pending.push_back(t.impl_ptr().get());
  };
  visited.insert(root.impl_ptr().get());
  while (!pending.empty()) {
    const TensorImpl* node = pending.back();
    pending.pop_back();
    const bool parameter = node->requires_grad && !node->grad_fn;
    if (!parameter && counted.insert(node->storage.get()).second)
      bytes += int64_t(node->storage->bytes());
    if (!node->grad_fn) continue;
    for (const Tensor& input : node->grad_fn->inputs) note(input);
    note(node->grad_fn->saved_output);
  }
  return bytes;
}

void note_storage_allocated(size_t bytes) {
  const int64_t now =
      live_bytes.fetch_add(int64_t(bytes), std::memory_order_relaxed) + int64_t(bytes);
  int64_t peak = peak_bytes.load(std::memory_order_relaxed);
  while (now > peak && !peak_bytes.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}
void note_storage_freed(size_t bytes) {
  live_bytes.fetch_sub(int64_t(bytes), std::memory_order_relaxed);
}

int64_t TensorMemory::live() {
  return live_bytes.load(std::memory_order_relaxed);
}
int64_t TensorMemory::peak() {
  return peak_bytes.load(std::memory_order_relaxed);
}
void TensorMemory::reset_peak() {
  peak_bytes.store(live_bytes.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

}  // namespace attnlab
