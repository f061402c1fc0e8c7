#include "autograd/tensor.h"

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <unordered_set>

#include "autograd/accounting.h"
#include "autograd/allocator.h"
#include "autograd/op.h"
#include "autograd/parallel.h"

namespace attnlab {

const char* dtype_name(DType dtype) {
  return dtype == DType::F64 ? "float64" : "float32";
}
size_t dtype_size(DType dtype) {
  return dtype == DType::F64 ? 8 : 4;
}

Storage::Storage(size_t bytes) : bytes_(bytes) {
  data_ = allocate_block(bytes, capacity_);
  note_storage_allocated(bytes_);
}
Storage::~Storage() {
  free_block(data_, capacity_);
  note_storage_freed(bytes_);
}

// ---- construction -------------------------------------------------------------

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  for (int64_t s : shape)
    if (s < 0)
      throw std::invalid_argument(
          fmt::format("Tensor: negative dimension in shape {}", shape_str(shape)));
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->dtype = dtype;
  impl->storage = std::make_shared<Storage>(shape_numel(shape) * dtype_size(dtype));
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  std::memset(t.raw_data(), 0, t.numel() * dtype_size(dtype));
  return t;
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype) {
  Tensor t = empty(shape, dtype);
  dispatch(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    std::fill(p, p + t.numel(), static_cast<T>(value));
  });
  return t;
}

Tensor Tensor::from_vector(const std::vector<double>& values, const Shape& shape, DType dtype) {
  if (static_cast<int64_t>(values.size()) != shape_numel(shape))
    throw std::invalid_argument(fmt::format("Tensor::from_vector: {} values for shape {} ({})",
                                            values.size(), shape_str(shape), shape_numel(shape)));
  Tensor t = empty(shape, dtype);
  dispatch(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = t.data<T>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = static_cast<T>(values[i]);
  });
  return t;
}

// ---- inspection ---------------------------------------------------------------

static TensorImpl& checked(const std::shared_ptr<TensorImpl>& impl) {
  if (!impl) throw std::logic_error("Tensor: use of an undefined tensor");
  return *impl;
}

const Shape& Tensor::shape() const {
  return checked(impl_).shape;
}
DType Tensor::dtype() const {
  return checked(impl_).dtype;
}
int64_t Tensor::size(int64_t d) const {
  return shape()[normalize_dim("Tensor::size", d, dim())];
}

std::string Tensor::describe() const {
  if (!impl_) return "undefined";
  return fmt::format("{}{}", dtype() == DType::F64 ? "f64" : "f32", shape_str(shape()));
}

template <typename T>
T* Tensor::data() const {
  if (dtype() != dtype_of<T>())
    throw std::invalid_argument(fmt::format("Tensor::data: asked for {} but the tensor is {}",
                                            dtype_name(dtype_of<T>()), describe()));
  return static_cast<T*>(impl_->storage->data());
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;

void* Tensor::raw_data() const {
  return checked(impl_).storage->data();
}

double Tensor::item(int64_t i) const {
  if (i < 0 || i >= numel())
    throw std::out_of_range(
        fmt::format("Tensor::item: index {} out of range for {}", i, describe()));
  return dispatch(dtype(), [&](auto tag) -> double { return data<decltype(tag)>()[i]; });
}

std::vector<double> Tensor::to_vector() const {
  std::vector<double> out(numel());
  for (int64_t i = 0; i < numel(); ++i) out[i] = item(i);
  return out;
}

std::vector<float> Tensor::to_floats() const {
  std::vector<float> out(static_cast<size_t>(numel()));
  const Tensor f = dtype() == DType::F32 ? *this : to(DType::F32);
  std::memcpy(out.data(), f.raw_data(), out.size() * sizeof(float));
  return out;
}

Tensor Tensor::to(DType target) const {
  Tensor out = empty(shape(), target);
  dispatch(dtype(), [&](auto src_tag) {
    using S = decltype(src_tag);
    dispatch(target, [&](auto dst_tag) {
      using D = decltype(dst_tag);
      const S* src = data<S>();
      D* dst = out.data<D>();
      for (int64_t i = 0; i < numel(); ++i) dst[i] = static_cast<D>(src[i]);
    });
  });
  return out;
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype());
  std::memcpy(out.raw_data(), raw_data(), numel() * dtype_size(dtype()));
  return out;
}

// ---- autograd -----------------------------------------------------------------

bool Tensor::requires_grad() const {
  return checked(impl_).requires_grad;
}

Tensor& Tensor::set_requires_grad(bool value) {
  if (!is_leaf())
    throw std::logic_error(
        "Tensor::set_requires_grad: only leaf tensors can change requires_grad; use detach()");
  impl_->requires_grad = value;
  return *this;
}

Tensor Tensor::grad() const {
  return Tensor(checked(impl_).grad);
}
void Tensor::zero_grad() {
  checked(impl_).grad.reset();
}
bool Tensor::is_leaf() const {
  return checked(impl_).grad_fn == nullptr;
}
const std::shared_ptr<GradFn>& Tensor::grad_fn() const {
  return checked(impl_).grad_fn;
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape();
  impl->dtype = dtype();
  impl->storage = impl_->storage;
  return Tensor(std::move(impl));
}

// Reverse topological order by an iterative DFS (deep graphs must not
// overflow the stack).
// Holds owning pointers: releasing a node's GradFn may drop the last other
// reference to the tensors it read, which are still to be visited.
static std::vector<std::shared_ptr<TensorImpl>> topological_order(
    const std::shared_ptr<TensorImpl>& root) {
  std::vector<std::shared_ptr<TensorImpl>> order;
  std::unordered_set<TensorImpl*> visited;
  std::vector<std::pair<std::shared_ptr<TensorImpl>, size_t>> stack{{root, 0}};
  visited.insert(root.get());
  while (!stack.empty()) {
    auto& [node, next_input] = stack.back();
    const auto& fn = node->grad_fn;
    if (fn && next_input < fn->inputs.size()) {
      const auto& child = fn->inputs[next_input++].impl_ptr();
      if (!child || !child->requires_grad) continue;  // constants take no part
      if (child->graph_released)
        throw std::runtime_error(
            "backward: an input of this graph was computed by a graph that an earlier backward() "
            "already released; run that forward pass again (or detach() the input)");
      if (child->grad_fn && visited.insert(child.get()).second) stack.push_back({child, 0});
      continue;
    }
    order.push_back(node);
    stack.pop_back();
  }
  return order;  // children before parents: walk it backwards
}

// Adds `g` into the gradient of `input`.
// - A leaf's gradient outlives the pass and is changed in place later
//   (accumulation over micro-batches, clipping), so it must own its storage:
//   a first gradient that shares storage (an op may return grad_output
//   itself, or a view of it) is copied.
// - An intermediate's gradient is only read, by its own node's backward, so
//   a shared first gradient is adopted as it is (add's backward hands the same
//   tensor to both inputs: copying it cost a memcpy of every residual
//   stream). When a second gradient arrives and the buffer is still shared,
//   the sum goes to a new buffer instead of into the shared one.
static void accumulate_grad(TensorImpl& input, Tensor g) {
  const auto shared = [](const std::shared_ptr<TensorImpl>& t) {
    return t.use_count() > 1 || t->storage.use_count() > 1;
  };
  if (!input.grad) {
    const bool leaf = input.grad_fn == nullptr;
    input.grad = leaf && shared(g.impl_ptr()) ? g.clone().impl_ptr() : g.impl_ptr();
    return;
  }
  const bool in_place = !shared(input.grad);  // asked before `acc` adds a reference
  Tensor acc(input.grad);
  Tensor out = in_place ? acc : Tensor::empty(acc.shape(), acc.dtype());
  dispatch(acc.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* dst = out.data<T>();
    const T* a = acc.data<T>();
    const T* src = g.data<T>();
    parallel_for(acc.numel(), kElementwiseGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) dst[i] = a[i] + src[i];
    });
  });
  if (!in_place) input.grad = out.impl_ptr();
}

// Runs one node's backward and accumulates what it returns, checking each
// gradient against its input. Every error names the op.
static void run_backward(const GradFn& fn, const Tensor& grad_output) {
  std::vector<Tensor> grads;
  try {
    grads = fn.backward(BackwardContext{grad_output, fn.inputs, fn.saved_output});
  } catch (const std::exception& e) {
    throw std::runtime_error(fmt::format("backward of {}: {}", fn.op, e.what()));
  }
  if (grads.size() != fn.inputs.size())
    throw std::logic_error(fmt::format("backward of {}: returned {} gradients for {} inputs", fn.op,
                                       grads.size(), fn.inputs.size()));
  for (size_t i = 0; i < grads.size(); ++i) {
    const Tensor& input = fn.inputs[i];
    if (!grads[i].defined() || !input.defined() || !input.requires_grad()) continue;
    if (grads[i].shape() != input.shape() || grads[i].dtype() != input.dtype())
      throw std::logic_error(
          fmt::format("backward of {}: the gradient of input {} is {} but the "
                      "input is {}",
                      fn.op, i, grads[i].describe(), input.describe()));
    accumulate_grad(*input.impl(), std::move(grads[i]));
  }
}

void Tensor::backward(const Tensor& seed) const {
  TensorImpl& root = checked(impl_);
  if (root.graph_released)
    throw std::runtime_error(fmt::format(
        "backward: the graph behind {} was already released by an earlier backward(); run the "
        "forward pass again",
        describe()));
  if (!root.requires_grad)
    throw std::runtime_error(fmt::format(
        "backward: the tensor {} does not require grad (no input requires grad, the graph was "
        "built under NoGradGuard, or backward already ran and released it)",
        describe()));
  Tensor root_grad;
  if (seed.defined()) {
    if (seed.shape() != shape() || seed.dtype() != dtype())
      throw std::invalid_argument(fmt::format(
          "backward: seed gradient {} does not match the tensor {}", seed.describe(), describe()));
    root_grad = seed.clone();
  } else {
    if (numel() != 1)
      throw std::invalid_argument(fmt::format(
          "backward: the tensor {} is not a scalar; pass a seed gradient of the same shape",
          describe()));
    root_grad = Tensor::full(shape(), 1.0, dtype());
  }
  if (!root.grad_fn) {  // a leaf: its gradient w.r.t. itself
    NoGradGuard no_grad;
    accumulate_grad(root, std::move(root_grad));
    return;
  }
  root.grad = root_grad.impl_ptr();

  NoGradGuard no_grad;  // backward functions never build graph
  auto order = topological_order(impl_);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    std::shared_ptr<TensorImpl> node = std::move(*it);      // dropped once processed
    std::shared_ptr<GradFn> fn = std::move(node->grad_fn);  // releases the graph as we go
    node->graph_released = true;
    Tensor grad(std::move(node->grad));  // intermediate grads are not kept
    if (fn && grad.defined()) run_backward(*fn, grad);
  }
}

// ---- grad mode ----------------------------------------------------------------

static thread_local bool g_grad_enabled = true;
bool grad_enabled() {
  return g_grad_enabled;
}
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) {
  g_grad_enabled = false;
}
NoGradGuard::~NoGradGuard() {
  g_grad_enabled = previous_;
}

// ---- recording ops ----------------------------------------------------------

void record_op(Tensor& out, const char* op, std::vector<Tensor> inputs, BackwardFn backward,
               SaveOutput save_output) {
  if (!grad_enabled()) return;
  bool any = false;
  for (const Tensor& t : inputs) any = any || (t.defined() && t.requires_grad());
  if (!any) return;
  auto fn = std::make_shared<GradFn>();
  fn->op = op;
  fn->inputs = std::move(inputs);
  if (save_output == SaveOutput::Yes) fn->saved_output = out.detach();
  fn->backward = std::move(backward);
  out.impl()->requires_grad = true;
  out.impl()->grad_fn = std::move(fn);
}

void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype())
    throw std::invalid_argument(
        fmt::format("{}: dtype mismatch: {} vs {}", op, a.describe(), b.describe()));
}

void check_defined(const char* op, const char* arg, const Tensor& t) {
  if (!t.defined())
    throw std::invalid_argument(fmt::format("{}: argument '{}' is undefined", op, arg));
}

}  // namespace attnlab
