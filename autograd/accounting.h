// Op-level accounting: what a pass through the graph actually does, counted
// as it runs. `attnlab describe` predicts FLOPs and memory from formulas; the
// tests hold those formulas to these counts, and `describe --measure` reports
// them next to the formulas.
//
//   FlopCount            FLOPs of every matrix product run while it is alive
//                        (multiply-add = 2; elementwise ops are not counted)
//   graph_bytes          bytes of the tensors a graph keeps alive for backward
//   TensorMemory         bytes of all live tensor storage, and its peak
#pragma once

#include <cstdint>

#include "autograd/tensor.h"

namespace attnlab {

// Counts matrix-product FLOPs on the thread that creates it (ops are issued
// from one thread; their kernels may fan out). Counts nest: an inner count
// also adds to the outer one.
class FlopCount {
 public:
  FlopCount();
  ~FlopCount();
  FlopCount(const FlopCount&) = delete;
  FlopCount& operator=(const FlopCount&) = delete;
  double flops() const { return flops_; }

 private:
  friend void count_matmul_flops(int64_t, int64_t, int64_t, int64_t);
  double flops_ = 0;
  FlopCount* outer_;
};

// Called by matmul: batch products of (m,k) x (k,n).
void count_matmul_flops(int64_t batch, int64_t m, int64_t n, int64_t k);

// The distinct storage reachable from `root` through the recorded graph
// (root itself, every op's inputs and saved outputs), leaving out leaves that
// require grad (the parameters): the activations a backward pass needs.
int64_t graph_bytes(const Tensor& root);

// Live tensor storage in the whole process. `peak` is the largest `live`
// since the last reset_peak().
struct TensorMemory {
  static int64_t live();
  static int64_t peak();
  static void reset_peak();
};

// Storage reports its allocations here.
void note_storage_allocated(size_t bytes);
void note_storage_freed(size_t bytes);

}  // namespace attnlab
