// matmul (batched, transpose flags) and linear. The products run in named
// kernels (autograd/kernels/matmul.h, on top of gemm); this file checks the
// arguments and records the op. linear is one op with the bias added inside
// the GEMM; linear_composed builds the same from reshape, matmul and add, and
// the tests hold the two to each other.
#include <fmt/format.h>

#include <stdexcept>

#include "autograd/accounting.h"
#include "autograd/kernels/matmul.h"
#include "autograd/op.h"
#include "autograd/ops.h"

namespace attnlab {
namespace {

struct MatmulDims {
  int64_t batch = 1;  // product of a's leading dims
  int64_t m = 0, n = 0, k = 0;
  bool b_shared = false;  // b is 2-D and reused for every batch entry
  Shape out_shape;
};

MatmulDims matmul_dims(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  if (a.dim() < 2 || b.dim() < 2)
    throw std::invalid_argument(
        fmt::format("matmul: both operands need at least 2 dims, got a {} and b {}",
                    shape_str(a.shape()), shape_str(b.shape())));
  MatmulDims d;
  d.m = ta ? a.size(-1) : a.size(-2);
  int64_t ka = ta ? a.size(-2) : a.size(-1);
  int64_t kb = tb ? b.size(-1) : b.size(-2);
  d.n = tb ? b.size(-2) : b.size(-1);
  if (ka != kb)
    throw std::invalid_argument(
        fmt::format("matmul: inner dimensions differ: a {}{} gives K={} but b {}{} gives K={}",
                    shape_str(a.shape()), ta ? " (transposed)" : "", ka, shape_str(b.shape()),
                    tb ? " (transposed)" : "", kb));
  d.k = ka;
  Shape batch_a(a.shape().begin(), a.shape().end() - 2);
  Shape batch_b(b.shape().begin(), b.shape().end() - 2);
  d.b_shared = batch_b.empty() && !batch_a.empty();
  if (!d.b_shared && batch_a != batch_b)
    throw std::invalid_argument(fmt::format(
        "matmul: batch dimensions differ: a {} vs b {} (b must be 2-D or have the same batch dims)",
        shape_str(a.shape()), shape_str(b.shape())));
  d.batch = shape_numel(batch_a);
  d.out_shape = batch_a;
  d.out_shape.push_back(d.m);
  d.out_shape.push_back(d.n);
  return d;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  check_defined("matmul", "a", a);
  check_defined("matmul", "b", b);
  check_same_dtype("matmul", a, b);
  MatmulDims d = matmul_dims(a, b, trans_a, trans_b);
  Tensor c = Tensor::empty(d.out_shape, a.dtype());  // (..., M, N)
  count_matmul_flops(d.batch, d.m, d.n, d.k);
  dispatch(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    matmul_forward<T>(c.data<T>(), a.data<T>(), b.data<T>(), d.batch, d.m, d.n, d.k, trans_a,
                      trans_b, d.b_shared);
  });
  record_op(c, "matmul", {a, b},
            [d, trans_a, trans_b](const BackwardContext& ctx) -> std::vector<Tensor> {
              const Tensor &a = ctx.inputs[0], &b = ctx.inputs[1];
              Tensor da = ctx.new_grad(0);  // a's shape: (..., M, K), or (..., K, M) if trans_a
              Tensor db = ctx.new_grad(1);  // b's shape; a shared b sums over the batch
              dispatch(ctx.grad_output.dtype(), [&](auto tag) {
                using T = decltype(tag);
                matmul_backward<T>(data_or_null<T>(da), data_or_null<T>(db),
                                   ctx.grad_output.data<T>(), a.data<T>(), b.data<T>(), d.batch,
                                   d.m, d.n, d.k, trans_a, trans_b, d.b_shared);
              });
              return {da, db};
            });
  return c;
}

namespace {

void check_linear(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_defined(op, "x", x);
  check_defined(op, "weight", weight);
  if (weight.dim() != 2 || x.dim() < 1 || x.size(-1) != weight.size(1))
    throw std::invalid_argument(fmt::format(
        "{}: expected x (..., in) and weight (out, in) with matching 'in', got x {} and "
        "weight {}",
        op, shape_str(x.shape()), shape_str(weight.shape())));
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != weight.size(0)))
    throw std::invalid_argument(
        fmt::format("{}: expected bias ({}), got {}", op, weight.size(0), shape_str(bias.shape())));
  check_same_dtype(op, x, weight);
  if (bias.defined()) check_same_dtype(op, x, bias);
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_linear("linear", x, weight, bias);
  const int64_t in = weight.size(1), out = weight.size(0);
  const int64_t rows = shape_numel(Shape(x.shape().begin(), x.shape().end() - 1));  // N
  Shape out_shape = x.shape();
  out_shape.back() = out;
  Tensor y = Tensor::empty(out_shape, x.dtype());  // (..., out)
  count_matmul_flops(1, rows, out, in);
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    linear_forward<T>(y.data<T>(), x.data<T>(), weight.data<T>(), data_or_null<T>(bias), rows, in,
                      out);
  });
  record_op(y, "linear", {x, weight, bias},
            [rows, in, out](const BackwardContext& ctx) -> std::vector<Tensor> {
              Tensor dx = ctx.new_grad(0), dw = ctx.new_grad(1), db = ctx.new_grad(2);
              dispatch(ctx.grad_output.dtype(), [&](auto tag) {
                using T = decltype(tag);
                linear_backward<T>(data_or_null<T>(dx), data_or_null<T>(dw), data_or_null<T>(db),
                                   ctx.grad_output.data<T>(), ctx.inputs[0].data<T>(),
                                   ctx.inputs[1].data<T>(), rows, in, out);
              });
              return {dx, dw, db};
            });
  return y;
}

Tensor linear_composed(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_linear("linear_composed", x, weight, bias);
  // (..., in) -> (N, in) so a single GEMM covers every row.
  Shape out_shape = x.shape();
  out_shape.back() = weight.size(0);
  Tensor x2 = x.dim() == 2 ? x : reshape(x, {-1, x.size(-1)});  // (N, in)
  Tensor y = matmul(x2, weight, false, true);                   // (N, out)
  if (bias.defined()) y = add(y, bias);
  return x.dim() == 2 ? y : reshape(y, out_shape);
}

}  // namespace attnlab
