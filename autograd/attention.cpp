// The two halves of attention as ops: attention_weights, softmax(scale * q k^T
// + bias) with blocked keys removed, and attention_values, the weighted sum
// of values. Both read heads in place from the projections' (B,T,H*D)
// outputs when given the head count. The arithmetic lives in named kernels
// (autograd/kernels/attention.h); this file checks the arguments and records
// the ops. The *_composed forms build the same from split_heads, matmul,
// mul_scalar, add, masked_fill, softmax and merge_heads: the references the
// tests hold the fused ops to.
#include <fmt/format.h>

#include <limits>
#include <memory>
#include <stdexcept>

#include "autograd/accounting.h"
#include "autograd/kernels/attention.h"
#include "autograd/kernels/flash_attention.h"
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

// The (B,H,T,D) view of an attention operand: 4-D as it is, or (B,T,H*D)
// with `heads` given. `what` names the operand in errors.
struct HeadView {
  int64_t batch, heads, t, d;
  HeadLayout layout;
};
HeadView head_view(const char* op, const char* what, const Tensor& x, int64_t heads) {
  if (heads == 0) {
    if (x.dim() != 4)
      throw std::invalid_argument(
          fmt::format("{}: expected {} (B,H,T,D), got {}", op, what, shape_str(x.shape())));
    return {x.size(0), x.size(1), x.size(2), x.size(3),
            heads_apart(x.size(1), x.size(2), x.size(3))};
  }
  if (x.dim() != 3 || heads < 0 || x.size(2) % heads != 0)
    throw std::invalid_argument(fmt::format("{}: expected {} (B,T,H*D) with H={}, got {}", op, what,
                                            heads, shape_str(x.shape())));
  const int64_t d = x.size(2) / heads;
  return {x.size(0), heads, x.size(1), d, heads_in_channels(heads, x.size(1), d)};
}

}  // namespace

Tensor attention_weights(const Tensor& q, const Tensor& k, double scale, const Tensor& bias,
                         const Mask* mask, int64_t heads) {
  check_defined("attention_weights", "q", q);
  check_defined("attention_weights", "k", k);
  check_same_dtype("attention_weights", q, k);
  const HeadView qv = head_view("attention_weights", "q", q, heads),
                 kv = head_view("attention_weights", "k", k, heads);
  if (qv.batch != kv.batch || qv.heads != kv.heads || qv.d != kv.d)
    throw std::invalid_argument(
        fmt::format("attention_weights: q {} and k {} differ in batch, heads or head size",
                    shape_str(q.shape()), shape_str(k.shape())));
  AttentionDims dims{qv.batch, qv.heads, qv.t, kv.t, qv.d, false, qv.layout, kv.layout};
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

Tensor attention_values(const Tensor& p, const Tensor& v, int64_t heads) {
  check_defined("attention_values", "p", p);
  check_defined("attention_values", "v", v);
  check_same_dtype("attention_values", p, v);
  const HeadView vv = head_view("attention_values", "v", v, heads);
  if (p.dim() != 4 || p.size(0) != vv.batch || p.size(1) != vv.heads || p.size(3) != vv.t)
    throw std::invalid_argument(
        fmt::format("attention_values: weights {} do not match values {} (expected (B={},H={},Tq,"
                    "Tk={}))",
                    shape_str(p.shape()), shape_str(v.shape()), vv.batch, vv.heads, vv.t));
  const int64_t tq = p.size(2);
  const HeadLayout out_layout =
      heads == 0 ? heads_apart(vv.heads, tq, vv.d) : heads_in_channels(vv.heads, tq, vv.d);
  const ValueDims dims{vv.batch, vv.heads, tq, vv.t, vv.d, vv.layout, out_layout};
  const Shape out_shape =
      heads == 0 ? Shape{vv.batch, vv.heads, tq, vv.d} : Shape{vv.batch, tq, vv.heads * vv.d};
  Tensor out = Tensor::empty(out_shape, v.dtype());  // (B,H,Tq,D) or (B,Tq,H*D)
  count_matmul_flops(vv.batch * vv.heads, tq, vv.d, vv.t);
  dispatch(v.dtype(), [&](auto tag) {
    using T = decltype(tag);
    attention_values_forward<T>(out.data<T>(), p.data<T>(), v.data<T>(), dims);
  });
  record_op(out, "attention_values", {p, v},
            [dims](const BackwardContext& ctx) -> std::vector<Tensor> {
              Tensor dp = ctx.new_grad(0), dv = ctx.new_grad(1);
              dispatch(ctx.grad_output.dtype(), [&](auto tag) {
                using T = decltype(tag);
                attention_values_backward<T>(data_or_null<T>(dp), data_or_null<T>(dv),
                                             ctx.grad_output.data<T>(), ctx.inputs[0].data<T>(),
                                             ctx.inputs[1].data<T>(), dims);
              });
              return {dp, dv};
            });
  return out;
}

Tensor attention_values_composed(const Tensor& p, const Tensor& v, int64_t heads) {
  if (heads == 0) return matmul(p, v);
  return merge_heads(matmul(p, split_heads(v, heads)));
}

Tensor attention_weights_composed(const Tensor& q_in, const Tensor& k_in, double scale,
                                  const Tensor& bias, const Mask* mask, int64_t heads) {
  const Tensor q = heads ? split_heads(q_in, heads) : q_in;  // (B,H,Tq,D)
  const Tensor k = heads ? split_heads(k_in, heads) : k_in;  // (B,H,Tk,D)
  Tensor scores = matmul(q, k, false, true);                 // (B,H,Tq,Tk)
  if (scale != 1.0) scores = mul_scalar(scores, scale);
  if (bias.defined()) scores = add(scores, bias);
  if (mask) scores = masked_fill(scores, *mask, -std::numeric_limits<double>::infinity());
  return softmax(scores);  // (B,H,Tq,Tk)
}

Mask KeyMask::dense(int64_t batch, int64_t tq, int64_t tk) const {
  if (!causal && key_padding.empty()) return {};
  if (!causal) return {{batch, 1, 1, tk}, key_padding};  // broadcast over heads and queries
  const Mask triangle = causal_mask(tq, tk);
  if (prefix.empty() && key_padding.empty()) return triangle;  // (Tq,Tk) broadcasts
  Mask m{{batch, 1, tq, tk}, std::vector<uint8_t>(size_t(batch * tq * tk))};
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t i = 0; i < tq; ++i) {
      const bool in_prefix = !prefix.empty() && i < prefix[size_t(b)];
      for (int64_t j = 0; j < tk; ++j)
        m.blocked[size_t((b * tq + i) * tk + j)] =
            (triangle.blocked[size_t(i * tk + j)] && !(in_prefix && j < prefix[size_t(b)])) ||
            (!key_padding.empty() && key_padding[size_t(b * tk + j)]);
    }
  return m;
}

namespace {

// The arguments of flash_attention, checked: the dims its kernels take, or
// an error naming the shapes.
FlashDims flash_dims(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads,
                     const Tensor& bias, const KeyMask& mask, double dropout_p,
                     const Generator* gen) {
  if (!(dropout_p >= 0 && dropout_p < 1) || (dropout_p > 0 && !gen))
    throw std::invalid_argument(
        fmt::format("flash_attention: dropout must be in [0, 1) and have a generator, got {}{}",
                    dropout_p, gen ? "" : " without one"));
  check_defined("flash_attention", "q", q);
  check_defined("flash_attention", "k", k);
  check_defined("flash_attention", "v", v);
  check_same_dtype("flash_attention", q, k);
  check_same_dtype("flash_attention", q, v);
  if (heads <= 0 || q.dim() != 3 || k.dim() != 3 || k.shape() != v.shape() ||
      q.size(0) != k.size(0) || q.size(2) != k.size(2) || q.size(2) % heads != 0)
    throw std::invalid_argument(fmt::format(
        "flash_attention: expected q (B,Tq,H*D) and k, v (B,Tk,H*D) with H={}, got q {}, k {}, "
        "v {}",
        heads, shape_str(q.shape()), shape_str(k.shape()), shape_str(v.shape())));
  const int64_t b = q.size(0), tq = q.size(1), tk = k.size(1), d = q.size(2) / heads;
  FlashDims dims{b,
                 heads,
                 tq,
                 tk,
                 d,
                 false,
                 heads_in_channels(heads, tq, d),
                 heads_in_channels(heads, tk, d),
                 heads_in_channels(heads, tk, d),
                 heads_in_channels(heads, tq, d)};
  if (bias.defined()) {
    check_same_dtype("flash_attention", q, bias);
    if (bias.dim() != 4 || (bias.size(0) != 1 && bias.size(0) != b) || bias.size(1) != heads ||
        bias.size(2) != tq || bias.size(3) != tk)
      throw std::invalid_argument(fmt::format(
          "flash_attention: bias {} does not match scores (B={},H={},Tq={},Tk={}) (its batch "
          "dim may be 1)",
          shape_str(bias.shape()), b, heads, tq, tk));
    dims.bias_batched = bias.size(0) != 1 || b == 1;
  }
  if (!mask.key_padding.empty() && int64_t(mask.key_padding.size()) != b * tk)
    throw std::invalid_argument(
        fmt::format("flash_attention: key padding has {} values, expected (B={}, Tk={})",
                    mask.key_padding.size(), b, tk));
  if (mask.causal && tk < tq)
    throw std::invalid_argument(fmt::format(
        "flash_attention: causal attention needs at least as many keys as queries, got Tq={} "
        "Tk={}",
        tq, tk));
  if (!mask.prefix.empty() && (!mask.causal || int64_t(mask.prefix.size()) != b || tq != tk))
    throw std::invalid_argument(fmt::format(
        "flash_attention: prefix lengths are for causal self-attention, one per row: got {} for "
        "B={}, Tq={}, Tk={}{}",
        mask.prefix.size(), b, tq, tk, mask.causal ? "" : ", not causal"));
  return dims;
}

}  // namespace

Tensor flash_attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads,
                       double scale, const Tensor& bias, const KeyMask& mask, double dropout_p,
                       Generator* gen) {
  const FlashDims dims = flash_dims(q, k, v, heads, bias, mask, dropout_p, gen);
  WeightDropout drop;
  if (dropout_p > 0) {
    drop = {dropout_p, gen->seed, gen->offset};
    gen->offset += uint64_t(dims.batch * dims.heads * dims.tq * dims.tk);
  }
  // The mask outlives this call in the backward's closure.
  const auto kept = std::make_shared<const KeyMask>(mask);
  const auto visibility = [kept] {
    return KeyVisibility{kept->causal, kept->prefix.empty() ? nullptr : kept->prefix.data(),
                         kept->key_padding.empty() ? nullptr : kept->key_padding.data()};
  };
  Tensor out = Tensor::empty(q.shape(), q.dtype());                          // (B,Tq,H*D)
  Tensor lse = Tensor::empty({dims.batch, dims.heads, dims.tq}, q.dtype());  // (B,H,Tq)
  count_matmul_flops(dims.batch * dims.heads, dims.tq, dims.tk, dims.d);
  count_matmul_flops(dims.batch * dims.heads, dims.tq, dims.d, dims.tk);
  dispatch(q.dtype(), [&](auto tag) {
    using T = decltype(tag);
    flash_attention_forward<T>(out.data<T>(), lse.data<T>(), q.data<T>(), k.data<T>(), v.data<T>(),
                               data_or_null<T>(bias), visibility(), drop, dims, T(scale));
  });
  // lse is an input that takes no gradient, so that what the graph keeps
  // (graph_bytes, describe's memory formulas) counts it.
  record_op(
      out, "flash_attention", {q, k, v, bias, lse},
      [dims, scale, visibility, drop](const BackwardContext& ctx) -> std::vector<Tensor> {
        Tensor dq = ctx.new_grad(0), dk = ctx.new_grad(1), dv = ctx.new_grad(2),
               dbias = ctx.new_grad(3);
        dispatch(ctx.output.dtype(), [&](auto tag) {
          using T = decltype(tag);
          flash_attention_backward<T>(
              data_or_null<T>(dq), data_or_null<T>(dk), data_or_null<T>(dv), data_or_null<T>(dbias),
              ctx.grad_output.data<T>(), ctx.output.data<T>(), ctx.inputs[4].data<T>(),
              ctx.inputs[0].data<T>(), ctx.inputs[1].data<T>(), ctx.inputs[2].data<T>(),
              data_or_null<T>(ctx.inputs[3]), visibility(), drop, dims, T(scale));
        });
        return {dq, dk, dv, dbias, Tensor()};
      },
      SaveOutput::Yes);
  return out;
}

Tensor flash_attention_composed(const Tensor& q, const Tensor& k, const Tensor& v, int64_t heads,
                                double scale, const Tensor& bias, const KeyMask& mask,
                                double dropout_p, Generator* gen) {
  flash_dims(q, k, v, heads, bias, mask, dropout_p, gen);
  const Mask dense = mask.dense(q.size(0), q.size(1), k.size(1));
  Tensor p = attention_weights_composed(q, k, scale, bias, dense.blocked.empty() ? nullptr : &dense,
                                        heads);
  if (dropout_p > 0) p = dropout(p, dropout_p, *gen, true);  // (B,H,Tq,Tk)
  return attention_values_composed(p, v, heads);             // (B,Tq,H*D)
}

}  // namespace attnlab
