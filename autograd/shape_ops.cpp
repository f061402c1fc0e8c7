// reshape (a view), permute/transpose, the head split/merge, slice, concat.
#include <fmt/format.h>

#include <cstring>
#include <numeric>
#include <stdexcept>

#include "autograd/op.h"
#include "autograd/ops.h"
#include "autograd/parallel.h"

namespace attnlab {
namespace {

// Adds (or copies) src into dst with dst index = src index permuted: dst is
// src with dims reordered by perm (dst.shape[i] = src.shape[perm[i]]).
template <typename T>
void permute_kernel(const T* src, const Shape& src_shape, const std::vector<int64_t>& perm, T* dst,
                    bool accumulate) {
  const int64_t rank = static_cast<int64_t>(perm.size());
  Shape dst_shape(rank);
  std::vector<int64_t> src_strides(rank), walk(rank);  // walk[i]: src stride of dst dim i
  int64_t s = 1;
  for (int64_t d = rank - 1; d >= 0; --d) {
    src_strides[d] = s;
    s *= src_shape[d];
  }
  for (int64_t i = 0; i < rank; ++i) {
    dst_shape[i] = src_shape[perm[i]];
    walk[i] = src_strides[perm[i]];
  }
  const int64_t last = rank ? dst_shape[rank - 1] : 1;
  const int64_t last_stride = rank ? walk[rank - 1] : 0;
  const int64_t rows = rank ? shape_numel(dst_shape) / std::max<int64_t>(last, 1) : 1;
  if (last == 0) return;
  parallel_for(rows, row_grain(last), [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) {
      int64_t off = 0, rest = row;
      for (int64_t d = rank - 2; d >= 0; --d) {
        off += (rest % dst_shape[d]) * walk[d];
        rest /= dst_shape[d];
      }
      T* out = dst + row * last;
      if (accumulate)
        for (int64_t j = 0; j < last; ++j) out[j] += src[off + j * last_stride];
      else
        for (int64_t j = 0; j < last; ++j) out[j] = src[off + j * last_stride];
    }
  });
}

// Copies blocks between a tensor viewed as (outer, dim, inner) and a slice
// of it viewed as (outer, len, inner) starting at `start` along dim.
template <typename T>
void copy_slice(const Shape& shape, int64_t dim, int64_t start, int64_t len, T* whole, T* part,
                bool to_part, bool accumulate) {
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= shape[d];
  for (size_t d = dim + 1; d < shape.size(); ++d) inner *= shape[d];
  const int64_t full = shape[dim];
  parallel_for(outer, row_grain(len * inner), [&](int64_t lo, int64_t hi) {
    for (int64_t o = lo; o < hi; ++o) {
      T* w = whole + (o * full + start) * inner;
      T* p = part + o * len * inner;
      T* dst = to_part ? p : w;
      const T* src = to_part ? w : p;
      if (accumulate)
        for (int64_t i = 0; i < len * inner; ++i) dst[i] += src[i];
      else
        std::memcpy(dst, src, sizeof(T) * len * inner);
    }
  });
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
  Tensor view = x.detach();  // shares storage
  view.impl()->shape = shape;
  record_grad_fn(view, "reshape", {x}, [x](const Tensor& g) {
    Tensor gx = grad_buffer(x);
    dispatch(g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* pg = g.data<T>();
      T* pd = gx.data<T>();
      parallel_for(g.numel(), kElementwiseGrain, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) pd[i] += pg[i];
      });
    });
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
  Tensor out = Tensor::empty(out_shape, x.dtype());
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    permute_kernel<T>(x.data<T>(), x.shape(), perm, out.data<T>(), false);
  });
  record_grad_fn(out, "permute", {x}, [x, inverse](const Tensor& g) {
    Tensor gx = grad_buffer(x);
    dispatch(g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      permute_kernel<T>(g.data<T>(), g.shape(), inverse, gx.data<T>(), true);
    });
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
  Tensor out = Tensor::empty(out_shape, x.dtype());
  dispatch(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    copy_slice<T>(x.shape(), d, start, end - start, x.data<T>(), out.data<T>(), true, false);
  });
  record_grad_fn(out, "slice", {x}, [x, d, start, end](const Tensor& g) {
    Tensor gx = grad_buffer(x);
    dispatch(g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      copy_slice<T>(x.shape(), d, start, end - start, gx.data<T>(), g.data<T>(), false, true);
    });
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
  Tensor out = Tensor::empty(out_shape, first.dtype());
  std::vector<int64_t> starts;
  int64_t at = 0;
  for (const Tensor& x : xs) {
    starts.push_back(at);
    dispatch(x.dtype(), [&](auto tag) {
      using T = decltype(tag);
      copy_slice<T>(out_shape, d, at, x.size(d), out.data<T>(), x.data<T>(), false, false);
    });
    at += x.size(d);
  }
  record_grad_fn(out, "concat", xs, [xs, d, starts](const Tensor& g) {
    for (size_t i = 0; i < xs.size(); ++i) {
      Tensor gx = grad_buffer(xs[i]);
      if (!gx.defined()) continue;
      dispatch(g.dtype(), [&](auto tag) {
        using T = decltype(tag);
        copy_slice<T>(g.shape(), d, starts[i], xs[i].size(d), g.data<T>(), gx.data<T>(), true,
                      true);
      });
    }
  });
  return out;
}

}  // namespace attnlab
