// attention_weights: softmax(scale * q k^T + bias) with blocked keys removed,
// as one op. The arithmetic lives in named kernels
// (autograd/kernels/attention.h); this file checks the arguments and records
// the op. attention_weights_composed builds the same from matmul, mul_scalar,
// add, masked_fill and softmax: the reference the tests hold it to.
#include <fmt/format.h>

#include <limits>
#include <stdexcept>

#include "autograd/accounting.h"
#include "autograd/kernels/attention.h"
#include "autograd/op.h"
#include "autograd/ops.h"

namespace attnlab {
namespace {

// Strides that read `mask` broadcast to (B,H,Tq,Tk), or an error naming both shapes.
MaskStrides mask_strides(const Mask& mask, const Shape& scores) {
  const auto fail = [&](const std::string& why) {
    return std::invalid_argument(fmt::format("attention_weights: mask {} {} scores {}",
                                             shape_str(mask.shape), why, shape_str(scores)));
  };
  if (int64_t(mask.blocked.size()) != shape_numel(mask.shape))
    throw std::invalid_argument(fmt::format("attention_weights: mask has {} values for shape {}",
                                            mask.blocked.size(), shape_str(mask.shape)));
  if (mask.shape.size() > 4) throw fail("has more dims than the");
  Shape full(4 - mask.shape.size(), 1);  // left-padded to 4 dims
  full.insert(full.end(), mask.shape.begin(), mask.shape.end());
  int64_t stride[4], running = 1;
  for (int d = 3; d >= 0; --d) {
    if (full[d] != 1 && full[d] != scores[d]) throw fail("does not broadcast to the");
    stride[d] = full[d] == 1 ? 0 : running;
    running *= full[d];
  }
  return {stride[0], stride[1], stride[2], stride[3]};
}

}  // namespace

Tensor attention_weights(const Tensor& q, const Tensor& k, double scale, const Tensor& bias,
                         const Mask* mask) {
  check_defined("attention_weights", "q", q);
  check_defined("attention_weights", "k", k);
  check_same_dtype("attention_weights", q, k);
  if (q.dim() != 4 || k.dim() != 4 || q.size(0) != k.size(0) || q.size(1) != k.size(1) ||
      q.size(3) != k.size(3))
    throw std::invalid_argument(
        fmt::format("attention_weights: expected q (B,H,Tq,D) and k (B,H,Tk,D), got q {} and k {}",
                    shape_str(q.shape()), shape_str(k.shape())));
  AttentionDims dims{q.size(0), q.size(1), q.size(2), k.size(2), q.size(3), false};
  const Shape scores{dims.batch, dims.heads, dims.tq, dims.tk};
  if (bias.defined()) {
    check_same_dtype("attention_weights", q, bias);
    if (bias.dim() != 4 || (bias.size(0) != 1 && bias.size(0) != dims.batch) ||
        bias.size(1) != dims.heads || bias.size(2) != dims.tq || bias.size(3) != dims.tk)
      throw std::invalid_argument(fmt::format(
          "attention_weights: bias {} does not match scores {} (its batch dim may be 1)",
          shape_str(bias.shape()), shape_str(scores)));
    dims.bias_batched = bias.size(0) != 1 || dims.batch == 1;
  }
  const MaskStrides strides = mask ? mask_strides(*mask, scores) : MaskStrides{};
  Tensor p = Tensor::empty(scores, q.dtype());  // (B,H,Tq,Tk)
  count_matmul_flops(dims.batch * dims.heads, dims.tq, dims.tk, dims.d);
  dispatch(q.dtype(), [&](auto tag) {
    using T = decltype(tag);
    attention_weights_forward<T>(p.data<T>(), q.data<T>(), k.data<T>(), data_or_null<T>(bias),
                                 mask ? mask->blocked.data() : nullptr, strides, dims, T(scale));
  });
  record_op(
      p, "attention_weights", {q, k, bias},
      [dims, scale](const BackwardContext& ctx) -> std::vector<Tensor> {
        Tensor dq = ctx.new_grad(0), dk = ctx.new_grad(1), dbias = ctx.new_grad(2);
        Tensor ds = Tensor::empty(ctx.output.shape(), ctx.output.dtype());  // (B,H,Tq,Tk) scratch
        dispatch(ctx.output.dtype(), [&](auto tag) {
          using T = decltype(tag);
          attention_weights_backward<T>(
              data_or_null<T>(dq), data_or_null<T>(dk), data_or_null<T>(dbias), ds.data<T>(),
              ctx.grad_output.data<T>(), ctx.output.data<T>(), ctx.inputs[0].data<T>(),
              ctx.inputs[1].data<T>(), dims, T(scale));
        });
        return {dq, dk, dbias};
      },
      SaveOutput::Yes);
  return p;
}

Tensor attention_weights_composed(const Tensor& q, const Tensor& k, double scale,
                                  const Tensor& bias, const Mask* mask) {
  Tensor scores = matmul(q, k, false, true);  // (B,H,Tq,Tk)
  if (scale != 1.0) scores = mul_scalar(scores, scale);
  if (bias.defined()) scores = add(scores, bias);
  if (mask) scores = masked_fill(scores, *mask, -std::numeric_limits<double>::infinity());
  return softmax(scores);  // (B,H,Tq,Tk)
}

}  // namespace attnlab
