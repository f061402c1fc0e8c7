// matmul (batched, transpose flags) and linear, on top of our GEMM.
//
// For C = op(A) op(B) with upstream gradient dC:
//   d op(A) = dC op(B)^T    d op(B) = op(A)^T dC
// and a transposed operand receives the transpose of that. Every gradient is
// written by GEMM with beta = 1, i.e. accumulated straight into .grad.
#include <fmt/format.h>

#include <stdexcept>

#include "autograd/kernels/gemm.h"
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

template <typename T>
void matmul_forward(const MatmulDims& d, bool ta, bool tb, const T* a, const T* b, T* c) {
  const int64_t lda = ta ? d.m : d.k, ldb = tb ? d.k : d.n;
  if (d.b_shared && !ta) {
    // The batch folds into M: one large GEMM instead of many small ones.
    gemm<T>(false, tb, d.batch * d.m, d.n, d.k, T(1), a, lda, b, ldb, T(0), c, d.n);
    return;
  }
  gemm_batched<T>(ta, tb, d.batch, d.m, d.n, d.k, T(1), a, lda, d.m * d.k, b, ldb,
                  d.b_shared ? 0 : d.k * d.n, T(0), c, d.n, d.m * d.n);
}

template <typename T>
void matmul_backward(const MatmulDims& d, bool ta, bool tb, const T* a, const T* b, const T* dc,
                     T* da, T* db) {
  const int64_t lda = ta ? d.m : d.k, ldb = tb ? d.k : d.n, ldc = d.n;
  const int64_t sa = d.m * d.k, sb = d.b_shared ? 0 : d.k * d.n, sc = d.m * d.n;
  if (da) {
    if (!ta)  // dA (M,K) += dC (M,N) op(B)^T
      gemm_batched<T>(false, !tb, d.batch, d.m, d.k, d.n, T(1), dc, ldc, sc, b, ldb, sb, T(1), da,
                      lda, sa);
    else  // A stored (K,M): dA += op(B) (K,N) dC^T (N,M)
      gemm_batched<T>(tb, true, d.batch, d.k, d.m, d.n, T(1), b, ldb, sb, dc, ldc, sc, T(1), da,
                      lda, sa);
  }
  if (db) {
    if (d.b_shared) {
      if (!ta) {  // the folded case: one GEMM over all B*M rows
        if (!tb)
          gemm<T>(true, false, d.k, d.n, d.batch * d.m, T(1), a, lda, dc, ldc, T(1), db, ldb);
        else
          gemm<T>(true, false, d.n, d.k, d.batch * d.m, T(1), dc, ldc, a, lda, T(1), db, ldb);
        return;
      }
      // Shared b with transposed a: accumulate batch entries in order
      // (a fixed order, so the sum does not depend on threads).
      for (int64_t i = 0; i < d.batch; ++i) {
        if (!tb)
          gemm<T>(true, false, d.k, d.n, d.m, T(1), a + i * sa, lda, dc + i * sc, ldc, T(1), db,
                  ldb);
        else
          gemm<T>(true, true, d.n, d.k, d.m, T(1), dc + i * sc, ldc, a + i * sa, lda, T(1), db,
                  ldb);
      }
      return;
    }
    if (!tb)  // dB (K,N) += op(A)^T (K,M) dC (M,N)
      gemm_batched<T>(!ta, false, d.batch, d.k, d.n, d.m, T(1), a, lda, sa, dc, ldc, sc, T(1), db,
                      ldb, sb);
    else  // B stored (N,K): dB += dC^T (N,M) op(A) (M,K)
      gemm_batched<T>(true, ta, d.batch, d.n, d.k, d.m, T(1), dc, ldc, sc, a, lda, sa, T(1), db,
                      ldb, sb);
  }
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  check_defined("matmul", "a", a);
  check_defined("matmul", "b", b);
  check_same_dtype("matmul", a, b);
  MatmulDims d = matmul_dims(a, b, trans_a, trans_b);
  Tensor c = Tensor::empty(d.out_shape, a.dtype());
  dispatch(a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    matmul_forward<T>(d, trans_a, trans_b, a.data<T>(), b.data<T>(), c.data<T>());
  });
  record_grad_fn(c, "matmul", {a, b}, [a, b, d, trans_a, trans_b](const Tensor& g) {
    Tensor ga = grad_buffer(a), gb = grad_buffer(b);
    dispatch(g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      matmul_backward<T>(d, trans_a, trans_b, a.data<T>(), b.data<T>(), g.data<T>(),
                         ga.defined() ? ga.data<T>() : nullptr,
                         gb.defined() ? gb.data<T>() : nullptr);
    });
  });
  return c;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_defined("linear", "x", x);
  check_defined("linear", "weight", weight);
  if (weight.dim() != 2 || x.dim() < 1 || x.size(-1) != weight.size(1))
    throw std::invalid_argument(fmt::format(
        "linear: expected x (..., in) and weight (out, in) with matching 'in', got x {} and "
        "weight {}",
        shape_str(x.shape()), shape_str(weight.shape())));
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != weight.size(0)))
    throw std::invalid_argument(
        fmt::format("linear: expected bias ({}), got {}", weight.size(0), shape_str(bias.shape())));
  // (..., in) -> (N, in) so a single GEMM covers every row.
  Shape out_shape = x.shape();
  out_shape.back() = weight.size(0);
  Tensor x2 = x.dim() == 2 ? x : reshape(x, {-1, x.size(-1)});
  Tensor y = matmul(x2, weight, false, true);  // (N, out)
  if (bias.defined()) y = add(y, bias);
  return x.dim() == 2 ? y : reshape(y, out_shape);
}

}  // namespace attnlab
