// reshape (a view), permute/transpose, the head split/merge, slice, concat.
// The copies run in named kernels (autograd/kernels/shape_ops.h); this file
// checks the arguments and records the ops. transpose and the head split/merge
// are compositions of reshape and permute.
#include <fmt/format.h>

#include <numeric>
#include <stdexcept>

#include "autograd/kernels/shape_ops.h"
#include "autograd/op.h"
#include "autograd/ops.h"

namespace attnlab {
namespace {

// A tensor seen as (outer, shape[dim], inner) around `dim`, the view the
// slice kernels take.
struct AroundDim {
  int64_t outer = 1, inner = 1;
};
AroundDim around_dim(const Shape& shape, int64_t dim) {
  AroundDim a;
  for (int64_t d = 0; d < dim; ++d) a.outer *= shape[d];
  for (size_t d = dim + 1; d < shape.size(); ++d) a.inner *= shape[d];
  return a;
}

}  // namespace

Tensor reshape(const Tensor& x, Shape shape) {
  check_defined("reshape", "x", x);
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0)
        throw std::invalid_argument(
            fmt::format("reshape: only one dimension can be -1, got {}", shape_str(shape)));
      infer = static_cast<int64_t>(i);
    } else if (shape[i] < 0) {
      throw std::invalid_argument(
          fmt::format("reshape: invalid target shape {}", shape_str(shape)));
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || x.numel() % known != 0)
      throw std::invalid_argument(fmt::format("reshape: cannot reshape {} ({} elements) to {}",
                                              shape_str(x.shape()), x.numel(), shape_str(shape)));
    shape[infer] = x.numel() / known;
  }
  if (shape_numel(shape) != x.numel())
    throw std::invalid_argument(fmt::format("reshape: cannot reshape {} ({} elements) to {}",
                                            shape_str(x.shape()), x.numel(), shape_str(shape)));
  Tensor view = x.detach();  // the target shape, sharing x's storage
  view.impl()->shape = shape;
  record_op(view, "reshape", {x}, [](const BackwardContext& ctx) -> std::vector<Tensor> {
    // A view of grad_output (backward records no graph); the engine copies it
    // for a leaf, and for an intermediate copies on its next write.
    return {reshape(ctx.grad_output, ctx.inputs[0].shape())};
  });
  return view;
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& perm_in) {
  check_defined("permute", "x", x);
  const int64_t rank = x.dim();
  if (static_cast<int64_t>(perm_in.size()) != rank)
    throw std::invalid_argument(fmt::format("permute: {} dims given for a tensor of shape {}",
                                            perm_in.size(), shape_str(x.shape())));
  std::vector<int64_t> perm(rank), inverse(rank, -1);
  for (int64_t i = 0; i < rank; ++i) {
    perm[i] = normalize_dim("permute", perm_in[i], rank);
    if (inverse[perm[i]] != -1)
      throw std::invalid_argument(fmt::format("permute: dim {} appears twice", perm[i]));
    inverse[perm[i]] = i;
  }
  Shape out_shape(rank);
  for (int64_t i = 0; i < rank; ++i) out_shape[i] = x.size(perm[i]);
  Tensor out = Tensor::empty(out_shape, x.dtype());  // x's dims in perm order
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    permute_copy<T>(out.data<T>(), x.data<T>(), x.shape().data(), perm.data(), rank);
  });
  record_op(
      out, "permute", {x}, [inverse, rank](const BackwardContext& ctx) -> std::vector<Tensor> {
        const Tensor& dout = ctx.grad_output;  // x's dims in perm order
        Tensor dx = ctx.new_grad(0);           // x's shape
        dispatch(dx.dtype(), [&](auto tag) {
          using T = decltype(tag);
          permute_copy<T>(dx.data<T>(), dout.data<T>(), dout.shape().data(), inverse.data(), rank);
        });
        return {dx};
      });
  return out;
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  check_defined("transpose", "x", x);
  std::vector<int64_t> perm(x.dim());
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[normalize_dim("transpose", dim0, x.dim())],
            perm[normalize_dim("transpose", dim1, x.dim())]);
  return permute(x, perm);
}

Tensor split_heads(const Tensor& x, int64_t heads) {
  check_defined("split_heads", "x", x);
  if (x.dim() != 3 || heads <= 0 || x.size(2) % heads != 0)
    throw std::invalid_argument(
        fmt::format("split_heads: expected (B,T,H*D) with a width divisible by H={}, got {}", heads,
                    shape_str(x.shape())));
  Tensor bthd = reshape(x, {x.size(0), x.size(1), heads, x.size(2) / heads});  // (B,T,H,D)
  return permute(bthd, {0, 2, 1, 3});                                          // (B,H,T,D)
}

Tensor merge_heads(const Tensor& x) {
  check_defined("merge_heads", "x", x);
  if (x.dim() != 4)
    throw std::invalid_argument(
        fmt::format("merge_heads: expected (B,H,T,D), got {}", shape_str(x.shape())));
  Tensor bthd = permute(x, {0, 2, 1, 3});                               // (B,T,H,D)
  return reshape(bthd, {x.size(0), x.size(2), x.size(1) * x.size(3)});  // (B,T,H*D)
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end) {
  check_defined("slice", "x", x);
  int64_t d = normalize_dim("slice", dim, x.dim());
  if (start < 0 || end > x.size(d) || start > end)
    throw std::invalid_argument(fmt::format("slice: range [{}, {}) is invalid for dim {} of {}",
                                            start, end, d, shape_str(x.shape())));
  Shape out_shape = x.shape();
  out_shape[d] = end - start;
  Tensor out = Tensor::empty(out_shape, x.dtype());  // x's shape with end - start along d
  const AroundDim around = around_dim(x.shape(), d);
  const int64_t full = x.size(d), len = end - start;
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    copy_slice<T>(out.data<T>(), x.data<T>(), around.outer, full, around.inner, start, len);
  });
  record_op(out, "slice", {x},
            [around, full, start, len](const BackwardContext& ctx) -> std::vector<Tensor> {
              Tensor dx = ctx.new_grad(0);  // x's shape
              dispatch(dx.dtype(), [&](auto tag) {
                using T = decltype(tag);
                slice_backward<T>(dx.data<T>(), ctx.grad_output.data<T>(), around.outer, full,
                                  around.inner, start, len);
              });
              return {dx};
            });
  return out;
}

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  if (xs.empty()) throw std::invalid_argument("concat: no tensors given");
  for (size_t i = 0; i < xs.size(); ++i) check_defined("concat", "xs", xs[i]);
  const Tensor& first = xs[0];
  int64_t d = normalize_dim("concat", dim, first.dim());
  Shape out_shape = first.shape();
  out_shape[d] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    check_same_dtype("concat", first, xs[i]);
    Shape expect = first.shape(), got = xs[i].shape();
    if (got.size() == expect.size()) expect[d] = got[d];
    if (got != expect)
      throw std::invalid_argument(
          fmt::format("concat: tensor {} has shape {} but must match {} in every dim except {}", i,
                      shape_str(got), shape_str(first.shape()), d));
    out_shape[d] += got[d];
  }
  Tensor out = Tensor::empty(out_shape, first.dtype());  // the inputs end to end along d
  const AroundDim around = around_dim(out_shape, d);
  const int64_t full = out_shape[d];
  std::vector<int64_t> starts;  // where each input begins along d
  int64_t at = 0;
  for (const Tensor& x : xs) {
    starts.push_back(at);
    dispatch(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      copy_into_slice<T>(out.data<T>(), x.data<T>(), around.outer, full, around.inner, at,
                         x.size(d));
    });
    at += x.size(d);
  }
  record_op(out, "concat", xs,
            [around, full, d, starts](const BackwardContext& ctx) -> std::vector<Tensor> {
              std::vector<Tensor> dxs;  // one per input, each that input's shape
              for (size_t i = 0; i < ctx.inputs.size(); ++i) {
                Tensor dx = ctx.new_grad(i);  // input i's shape; undefined if it needs none
                if (dx.defined())
                  dispatch(dx.dtype(), [&](auto tag) {
                    using T = decltype(tag);
                    copy_slice<T>(dx.data<T>(), ctx.grad_output.data<T>(), around.outer, full,
                                  around.inner, starts[i], ctx.inputs[i].size(d));
                  });
                dxs.push_back(dx);
              }
              return dxs;
            });
  return out;
}

}  // namespace attnlab
