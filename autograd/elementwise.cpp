// add, sub, mul, div with broadcasting; scalar variants; neg.
#include <fmt/format.h>

#include <stdexcept>

#include "autograd/broadcast.h"
#include "autograd/op.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"

namespace attnlab {
namespace {

enum class BinaryOp { Add, Sub, Mul, Div };

const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::Add:
      return "add";
    case BinaryOp::Sub:
      return "sub";
    case BinaryOp::Mul:
      return "mul";
    case BinaryOp::Div:
      return "div";
  }
  return "?";
}

template <typename T>
T apply(BinaryOp op, T x, T y) {
  switch (op) {
    case BinaryOp::Add:
      return x + y;
    case BinaryOp::Sub:
      return x - y;
    case BinaryOp::Mul:
      return x * y;
    case BinaryOp::Div:
      return x / y;
  }
  return T(0);
}

// d(x op y)/dx and d(x op y)/dy at (x, y).
template <typename T>
T partial_x(BinaryOp op, T x, T y) {
  switch (op) {
    case BinaryOp::Add:
    case BinaryOp::Sub:
      return T(1);
    case BinaryOp::Mul:
      return y;
    case BinaryOp::Div:
      return T(1) / y;
  }
  return T(0);
}
template <typename T>
T partial_y(BinaryOp op, T x, T y) {
  switch (op) {
    case BinaryOp::Add:
      return T(1);
    case BinaryOp::Sub:
      return T(-1);
    case BinaryOp::Mul:
      return x;
    case BinaryOp::Div:
      return -x / (y * y);
  }
  return T(0);
}

// grad of one operand: g * partial, reduced (summed) over the dims where the
// operand was broadcast, added into its gradient buffer.
template <typename T>
void accumulate_operand_grad(BinaryOp op, bool wrt_x, const Tensor& target, const Tensor& grad_out,
                             const Tensor& a, const Tensor& b) {
  Tensor target_grad = grad_buffer(target);
  if (!target_grad.defined()) return;
  const Shape& out_shape = grad_out.shape();
  auto sa = broadcast_strides(a.shape(), out_shape);
  auto sb = broadcast_strides(b.shape(), out_shape);
  const T* g = grad_out.data<T>();
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  auto local = [&](int64_t o, int64_t ia, int64_t ib) {
    return g[o] * (wrt_x ? partial_x(op, pa[ia], pb[ib]) : partial_y(op, pa[ia], pb[ib]));
  };
  T* dst = target_grad.data<T>();
  if (target.shape() == out_shape) {  // no reduction: each thread owns its elements
    broadcast_for_each(out_shape, sa, sb,
                       [&](int64_t o, int64_t ia, int64_t ib) { dst[o] += local(o, ia, ib); });
    return;
  }
  // Reduction: the target index is ia (or ib); several outputs land on one
  // target element, so walk serially in a fixed order (deterministic).
  broadcast_for_each_serial(out_shape, sa, sb, [&](int64_t o, int64_t ia, int64_t ib) {
    dst[wrt_x ? ia : ib] += local(o, ia, ib);
  });
}

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_name(op);
  check_defined(name, "a", a);
  check_defined(name, "b", b);
  check_same_dtype(name, a, b);
  Shape out_shape = broadcast_shapes(name, a.shape(), b.shape());
  Tensor out = Tensor::empty(out_shape, a.dtype());
  dispatch(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    broadcast_for_each(
        out_shape, broadcast_strides(a.shape(), out_shape), broadcast_strides(b.shape(), out_shape),
        [&](int64_t o, int64_t ia, int64_t ib) { po[o] = apply(op, pa[ia], pb[ib]); });
  });
  record_grad_fn(out, name, {a, b}, [op, a, b](const Tensor& g) {
    dispatch(g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      accumulate_operand_grad<T>(op, true, a, g, a, b);
      accumulate_operand_grad<T>(op, false, b, g, a, b);
    });
  });
  return out;
}

// y = alpha * x + beta, the shared form of the scalar ops and neg.
Tensor affine_scalar(const char* name, const Tensor& x, double alpha, double beta) {
  check_defined(name, "x", x);
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    T al = static_cast<T>(alpha), be = static_cast<T>(beta);
    parallel_for(x.numel(), kElementwiseGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) po[i] = al * px[i] + be;
    });
  });
  record_grad_fn(out, name, {x}, [x, alpha](const Tensor& g) {
    Tensor gx = grad_buffer(x);
    dispatch(g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* pg = g.data<T>();
      T* pd = gx.data<T>();
      T al = static_cast<T>(alpha);
      parallel_for(g.numel(), kElementwiseGrain, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) pd[i] += al * pg[i];
      });
    });
  });
  return out;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  return binary(BinaryOp::Add, a, b);
}
Tensor sub(const Tensor& a, const Tensor& b) {
  return binary(BinaryOp::Sub, a, b);
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return binary(BinaryOp::Mul, a, b);
}
Tensor div(const Tensor& a, const Tensor& b) {
  return binary(BinaryOp::Div, a, b);
}
Tensor add_scalar(const Tensor& a, double s) {
  return affine_scalar("add_scalar", a, 1.0, s);
}
Tensor mul_scalar(const Tensor& a, double s) {
  return affine_scalar("mul_scalar", a, s, 0.0);
}
Tensor neg(const Tensor& a) {
  return affine_scalar("neg", a, -1.0, 0.0);
}

}  // namespace attnlab
