// Tensor: contiguous row-major storage with a shape, plus the autograd record
// that produced it.
//
// Design, in one place:
// - The element type is a runtime `DType` (float32 for training, float64 for
//   gradient checks). Kernels are templates instantiated for both, so the
//   float64 gradient check runs exactly the code that float32 training runs.
// - A Tensor is a cheap handle (shared_ptr) to a TensorImpl. Copying a Tensor
//   aliases it, as in PyTorch.
// - Storage is always contiguous. `reshape` is a view that shares storage;
//   every other shape op copies, which keeps kernels simple (no strides).
// - Define-by-run autograd: an op whose inputs require grad records a
//   `GradFn` on its output (autograd/op.h): its inputs and a backward that
//   returns d(loss)/d(input) for each input given d(loss)/d(output). The
//   engine (Tensor::backward) checks and accumulates those gradients.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "autograd/shape.h"

namespace attnlab {

enum class DType { F32, F64 };
const char* dtype_name(DType dtype);
size_t dtype_size(DType dtype);
template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::F32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::F64;
}

// 64-byte aligned buffer, so SIMD kernels can assume alignment of fresh
// tensors. Blocks come from the caching allocator (autograd/allocator.h).
class Storage {
 public:
  explicit Storage(size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  size_t capacity_ = 0;  // the block's size class
};

class Tensor;
struct GradFn;  // autograd/op.h

struct TensorImpl {
  Shape shape;
  DType dtype = DType::F32;
  std::shared_ptr<Storage> storage;
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // same shape and dtype; allocated lazily
  std::shared_ptr<GradFn> grad_fn;   // null for leaves and for no-grad results
  bool graph_released = false;       // backward already consumed grad_fn
};

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor (defined() == false)
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- construction -------------------------------------------------------
  static Tensor empty(const Shape& shape, DType dtype = DType::F32);
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32);
  static Tensor full(const Shape& shape, double value, DType dtype = DType::F32);
  static Tensor from_vector(const std::vector<double>& values, const Shape& shape,
                            DType dtype = DType::F32);
  static Tensor scalar(double value, DType dtype = DType::F32) { return full({}, value, dtype); }

  // ---- inspection ---------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int64_t dim() const { return static_cast<int64_t>(shape().size()); }
  // Size of dimension d; negative d counts from the end.
  int64_t size(int64_t d) const;
  int64_t numel() const { return shape_numel(shape()); }
  DType dtype() const;
  std::string describe() const;  // e.g. "f32(2,3,4)"

  // Typed raw access; throws if T does not match dtype().
  template <typename T>
  T* data() const;
  void* raw_data() const;
  // Element i of the flattened tensor, converted to double (tests, printing).
  double item(int64_t flat_index = 0) const;
  std::vector<double> to_vector() const;
  // The elements as float32 (rounded from float64), e.g. for files.
  std::vector<float> to_floats() const;
  // A copy with another element type (a new leaf, no graph).
  Tensor to(DType dtype) const;
  // A copy of the data (a new leaf, no graph).
  Tensor clone() const;

  // ---- autograd -----------------------------------------------------------
  bool requires_grad() const;
  Tensor& set_requires_grad(bool value);
  // The accumulated gradient; undefined until a backward pass reaches it.
  Tensor grad() const;
  void zero_grad();  // drops the gradient buffer (next backward starts at 0)
  bool is_leaf() const;
  const std::shared_ptr<GradFn>& grad_fn() const;
  // Same storage, no history: the result does not require grad.
  Tensor detach() const;
  // Reverse-mode pass from this tensor. A scalar seeds itself with 1; any
  // other shape needs `seed` of the same shape. The graph (saved tensors,
  // closures, intermediate gradients) is released as the pass goes.
  void backward(const Tensor& seed = Tensor()) const;

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// ---- grad mode ----------------------------------------------------------------
bool grad_enabled();
// RAII scope in which ops record no graph (inference, optimizer updates).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// ---- argument checks for ops (used by autograd/*.cpp) ---------------------------
// Throws std::invalid_argument naming `op` unless a and b have one dtype.
void check_same_dtype(const char* op, const Tensor& a, const Tensor& b);
void check_defined(const char* op, const char* arg, const Tensor& t);

// Calls f(T{}) with T = float or double according to dtype.
template <typename F>
decltype(auto) dispatch(DType dtype, F&& f) {
  if (dtype == DType::F64) return f(double{});
  return f(float{});
}

}  // namespace attnlab
