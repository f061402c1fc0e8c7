// The op-level gradient checks run by `attnlab gradcheck` and the test suite.
// Each case is tiny (finite differences cost two forward passes per element)
// but covers the awkward paths: broadcasting, transposes, masks, padding.
// op_gradcheck_cases() is one long list, a few lines per op, kept whole so
// that an op without a check stands out.
#include <cmath>
#include <limits>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"

namespace attnlab {
namespace {

struct Range {
  double lo = -1.0, hi = 1.0;
};

// A case whose inputs are fresh random float64 leaves of the given shapes.
GradCheckCase check(std::string name, std::string shapes, std::vector<Shape> input_shapes,
                    GradCheckFn fn, std::vector<Range> ranges = {}) {
  return GradCheckCase{std::move(name), std::move(shapes), [input_shapes, fn, ranges]() {
                         std::vector<Tensor> inputs;
                         for (size_t i = 0; i < input_shapes.size(); ++i) {
                           Range r = i < ranges.size() ? ranges[i] : Range{};
                           inputs.push_back(gradcheck_input(input_shapes[i], 100 + i, r.lo, r.hi));
                         }
                         return gradcheck(fn, inputs);
                       }};
}

using In = const std::vector<Tensor>&;
constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// A key padding mask (B,1,1,Tk) with the last `pad[b]` keys of row b blocked.
Mask key_padding(const std::vector<int64_t>& pad, int64_t tk) {
  Mask m{{static_cast<int64_t>(pad.size()), 1, 1, tk}, {}};
  for (int64_t p : pad)
    for (int64_t j = 0; j < tk; ++j) m.blocked.push_back(j >= tk - p);
  return m;
}

}  // namespace

std::vector<GradCheckCase> op_gradcheck_cases() {
  std::vector<GradCheckCase> cases;
  auto add_case = [&](GradCheckCase c) { cases.push_back(std::move(c)); };
  const Range positive{0.5, 2.0};

  // Element-wise arithmetic, including every broadcast pattern the layers use.
  add_case(check("add/same_shape", "a (2,3), b (2,3)", {{2, 3}, {2, 3}},
                 [](In x) { return add(x[0], x[1]); }));
  add_case(check("add/bias_row", "a (2,3,4), b (4)", {{2, 3, 4}, {4}},
                 [](In x) { return add(x[0], x[1]); }));
  add_case(check("add/leading_broadcast", "a (1,2,3,3), b (2,2,3,3)", {{1, 2, 3, 3}, {2, 2, 3, 3}},
                 [](In x) { return add(x[0], x[1]); }));
  add_case(check("sub/row_scalar", "a (3,4), b (3,1)", {{3, 4}, {3, 1}},
                 [](In x) { return sub(x[0], x[1]); }));
  add_case(check("mul/broadcast_both", "a (3,1), b (1,4)", {{3, 1}, {1, 4}},
                 [](In x) { return mul(x[0], x[1]); }));
  add_case(check("mul/same_shape", "a (2,5), b (2,5)", {{2, 5}, {2, 5}},
                 [](In x) { return mul(x[0], x[1]); }));
  add_case(check("div/row_scalar", "a (3,4), b (3,1)", {{3, 4}, {3, 1}},
                 [](In x) { return div(x[0], x[1]); }, {{}, positive}));
  add_case(check("div/bias_row", "a (2,3), b (3)", {{2, 3}, {3}},
                 [](In x) { return div(x[0], x[1]); }, {{}, positive}));
  add_case(check("add_scalar", "a (2,3)", {{2, 3}}, [](In x) { return add_scalar(x[0], 0.7); }));
  add_case(check("mul_scalar", "a (2,3)", {{2, 3}}, [](In x) { return mul_scalar(x[0], -1.3); }));
  add_case(check("neg", "a (2,3)", {{2, 3}}, [](In x) { return neg(x[0]); }));

  // Unary functions (relu is checked away from its kink at 0).
  add_case(check("exp", "x (2,4)", {{2, 4}}, [](In x) { return exp(x[0]); }));
  add_case(
      check("log", "x (2,4) in [0.5,2)", {{2, 4}}, [](In x) { return log(x[0]); }, {positive}));
  add_case(
      check("sqrt", "x (2,4) in [0.5,2)", {{2, 4}}, [](In x) { return sqrt(x[0]); }, {positive}));
  add_case(check("tanh", "x (2,4)", {{2, 4}}, [](In x) { return tanh(x[0]); }));
  add_case(check("relu/positive", "x (2,4) in [0.1,1)", {{2, 4}}, [](In x) { return relu(x[0]); },
                 {{0.1, 1.0}}));
  add_case(check("relu/negative", "x (2,4) in [-1,-0.1)", {{2, 4}}, [](In x) { return relu(x[0]); },
                 {{-1.0, -0.1}}));
  add_case(check("gelu/tanh", "x (2,4) in [-3,3)", {{2, 4}},
                 [](In x) { return gelu(x[0], GeluApprox::Tanh); }, {{-3, 3}}));
  add_case(check("gelu/erf", "x (2,4) in [-3,3)", {{2, 4}},
                 [](In x) { return gelu(x[0], GeluApprox::Erf); }, {{-3, 3}}));

  // Matrix products: all transpose combinations, batched, shared weight.
  add_case(check("matmul/nn", "a (3,4), b (4,5)", {{3, 4}, {4, 5}},
                 [](In x) { return matmul(x[0], x[1]); }));
  add_case(check("matmul/nt", "a (3,4), b^T (5,4)", {{3, 4}, {5, 4}},
                 [](In x) { return matmul(x[0], x[1], false, true); }));
  add_case(check("matmul/tn", "a^T (4,3), b (4,5)", {{4, 3}, {4, 5}},
                 [](In x) { return matmul(x[0], x[1], true, false); }));
  add_case(check("matmul/tt", "a^T (4,3), b^T (5,4)", {{4, 3}, {5, 4}},
                 [](In x) { return matmul(x[0], x[1], true, true); }));
  add_case(check("matmul/batched", "a (2,2,3,4), b (2,2,4,3)", {{2, 2, 3, 4}, {2, 2, 4, 3}},
                 [](In x) { return matmul(x[0], x[1]); }));
  add_case(check("matmul/batched_nt", "q (2,3,4), k (2,5,4)", {{2, 3, 4}, {2, 5, 4}},
                 [](In x) { return matmul(x[0], x[1], false, true); }));
  add_case(check("matmul/shared_b", "a (2,3,4), b (4,5)", {{2, 3, 4}, {4, 5}},
                 [](In x) { return matmul(x[0], x[1]); }));
  add_case(check("matmul/shared_b_tn", "a^T (2,4,3), b (4,5)", {{2, 4, 3}, {4, 5}},
                 [](In x) { return matmul(x[0], x[1], true, false); }));
  add_case(check("matmul/shared_b_ta", "a^T (2,4,3), b^T (5,4)", {{2, 4, 3}, {5, 4}},
                 [](In x) { return matmul(x[0], x[1], true, true); }));
  add_case(check("linear", "x (2,3,4), W (5,4), b (5)", {{2, 3, 4}, {5, 4}, {5}},
                 [](In x) { return linear(x[0], x[1], x[2]); }));
  add_case(check("linear/no_bias", "x (3,4), W (5,4)", {{3, 4}, {5, 4}},
                 [](In x) { return linear(x[0], x[1]); }));
  add_case(check("attention_weights/causal_shared_bias", "q (2,2,3,4), k (2,2,5,4), bias (1,2,3,5)",
                 {{2, 2, 3, 4}, {2, 2, 5, 4}, {1, 2, 3, 5}}, [](In x) {
                   const Mask causal = causal_mask(3, 5);
                   return attention_weights(x[0], x[1], 0.5, x[2], &causal);
                 }));
  add_case(check("attention_weights/heads_in_channels", "q (2,3,4), k (2,5,4), H=2",
                 {{2, 3, 4}, {2, 5, 4}},
                 [](In x) { return attention_weights(x[0], x[1], 0.7, Tensor(), nullptr, 2); }));
  add_case(check("attention_values/heads_apart", "p (2,2,3,5), v (2,2,5,4)",
                 {{2, 2, 3, 5}, {2, 2, 5, 4}}, [](In x) { return attention_values(x[0], x[1]); }));
  add_case(check("attention_values/heads_in_channels", "p (2,2,3,5), v (2,5,6), H=2",
                 {{2, 2, 3, 5}, {2, 5, 6}}, [](In x) { return attention_values(x[0], x[1], 2); }));
  add_case(check("attention_weights/padding_batched_bias",
                 "q (2,2,3,4), k (2,2,5,4), bias (2,2,3,5), padding (2,1,1,5)",
                 {{2, 2, 3, 4}, {2, 2, 5, 4}, {2, 2, 3, 5}}, [](In x) {
                   const Mask padding = key_padding({0, 2}, 5);
                   return attention_weights(x[0], x[1], 1.0, x[2], &padding);
                 }));
  // The streamed attention, every kind of mask; the lengths cross the query
  // tile (96) and key tile (192) in the last case.
  add_case(check("flash_attention/padding",
                 "q (2,3,4), k, v (2,5,4), H=2, row 1's last 2 keys padding",
                 {{2, 3, 4}, {2, 5, 4}, {2, 5, 4}}, [](In x) {
                   KeyMask mask;
                   mask.key_padding = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1};
                   return flash_attention(x[0], x[1], x[2], 2, 0.7, Tensor(), mask);
                 }));
  add_case(check("flash_attention/causal_shared_bias", "q (2,3,4), k, v (2,5,4), bias (1,2,3,5)",
                 {{2, 3, 4}, {2, 5, 4}, {2, 5, 4}, {1, 2, 3, 5}}, [](In x) {
                   KeyMask mask;
                   mask.causal = true;
                   return flash_attention(x[0], x[1], x[2], 2, 0.5, x[3], mask);
                 }));
  add_case(
      check("flash_attention/prefix_padding_batched_bias",
            "q, k, v (2,4,4), bias (2,2,4,4), prefixes 2 and 0, row 0's first query sees nothing",
            {{2, 4, 4}, {2, 4, 4}, {2, 4, 4}, {2, 2, 4, 4}}, [](In x) {
              KeyMask mask;
              mask.causal = true;
              mask.prefix = {2, 0};
              mask.key_padding = {1, 0, 0, 0, 0, 0, 0, 1};
              return flash_attention(x[0], x[1], x[2], 2, 1.0, x[3], mask);
            }));
  add_case(check("flash_attention/dropout", "q (2,3,4), k, v (2,5,4), H=2, p 0.4 (seed fixed)",
                 {{2, 3, 4}, {2, 5, 4}, {2, 5, 4}}, [](In x) {
                   Generator gen{11, 0};  // the same mask on every call
                   return flash_attention(x[0], x[1], x[2], 2, 0.7, Tensor(), KeyMask{}, 0.4, &gen);
                 }));
  add_case(check("flash_attention/causal_across_tiles", "q (1,100,2), k, v (1,200,2), H=1",
                 {{1, 100, 2}, {1, 200, 2}, {1, 200, 2}}, [](In x) {
                   KeyMask mask;
                   mask.causal = true;
                   return flash_attention(x[0], x[1], x[2], 1, 0.8, Tensor(), mask);
                 }));

  // Shape ops.
  add_case(check("reshape", "x (2,3,4) -> (6,-1)", {{2, 3, 4}}, [](In x) {
    return reshape(x[0], {6, -1});
  }));
  add_case(check("permute", "x (2,3,4,5) perm (3,1,0,2)", {{2, 3, 4, 5}}, [](In x) {
    return permute(x[0], {3, 1, 0, 2});
  }));
  add_case(check("transpose", "x (2,3,4) dims (-1,-2)", {{2, 3, 4}},
                 [](In x) { return transpose(x[0], -1, -2); }));
  add_case(check("split_heads", "x (2,3,6), H=2", {{2, 3, 6}},
                 [](In x) { return split_heads(x[0], 2); }));
  add_case(
      check("merge_heads", "x (2,2,3,3)", {{2, 2, 3, 3}}, [](In x) { return merge_heads(x[0]); }));
  add_case(check("slice", "x (3,5,2) dim 1 [1,4)", {{3, 5, 2}},
                 [](In x) { return slice(x[0], 1, 1, 4); }));
  add_case(check("concat", "(2,1,3) ++ (2,2,3) along 1", {{2, 1, 3}, {2, 2, 3}}, [](In x) {
    return concat({x[0], x[1]}, 1);
  }));

  // Reductions.
  add_case(check("sum/all", "x (3,4)", {{3, 4}}, [](In x) { return sum(x[0]); }));
  add_case(check("mean/all", "x (3,4)", {{3, 4}}, [](In x) { return mean(x[0]); }));
  add_case(check("sum/dim0", "x (3,4,2) dim 0", {{3, 4, 2}}, [](In x) { return sum(x[0], 0); }));
  add_case(check("sum/dim_mid_keepdim", "x (3,4,2) dim 1", {{3, 4, 2}},
                 [](In x) { return sum(x[0], 1, true); }));
  add_case(check("mean/last", "x (3,4) dim -1", {{3, 4}}, [](In x) { return mean(x[0], -1); }));

  // Softmax family, also with blocked (-inf) entries and a fully blocked row.
  add_case(check("softmax", "x (2,3,5)", {{2, 3, 5}}, [](In x) { return softmax(x[0]); }));
  add_case(check("log_softmax", "x (2,3,5)", {{2, 3, 5}}, [](In x) { return log_softmax(x[0]); }));
  add_case(
      check("softmax/padded_keys", "scores (2,2,3,4), key pad (2,1,1,4)", {{2, 2, 3, 4}}, [](In x) {
        return softmax(masked_fill(x[0], key_padding({1, 4}, 4), kNegInf));
      }));
  add_case(check("softmax/causal", "scores (1,2,4,4), causal", {{1, 2, 4, 4}},
                 [](In x) { return softmax(masked_fill(x[0], causal_mask(4, 4), kNegInf)); }));
  add_case(check("masked_fill", "x (2,3,4), mask (3,1)", {{2, 3, 4}}, [](In x) {
    return masked_fill(x[0], Mask{{3, 1}, {0, 1, 0}}, 0.25);
  }));
  add_case(check("additive_mask", "scores (2,4,4), bias (4,4)", {{2, 4, 4}, {4, 4}},
                 [](In x) { return softmax(add(x[0], x[1])); }));

  // Embedding with repeated ids (scatter-add must sum them).
  add_case(check("embedding", "W (5,3), ids (2,3) with repeats", {{5, 3}}, [](In x) {
    return embedding(x[0], IntTensor{{2, 3}, {1, 4, 1, 0, 4, 4}});
  }));

  // Normalisation.
  add_case(check("layer_norm", "x (2,3,5), gamma (5), beta (5)", {{2, 3, 5}, {5}, {5}},
                 [](In x) { return layer_norm(x[0], x[1], x[2]); }));
  add_case(check("rms_norm", "x (2,3,5), gamma (5)", {{2, 3, 5}, {5}},
                 [](In x) { return rms_norm(x[0], x[1]); }));

  // Dropout: the generator is recreated per call so the mask is fixed.
  add_case(check("dropout", "x (4,6), p=0.3", {{4, 6}}, [](In x) {
    Generator gen{7, 0};
    return dropout(x[0], 0.3, gen, true);
  }));

  // Cross-entropy: plain, with padding ignored, with label smoothing.
  add_case(check("cross_entropy", "logits (4,5), targets (4)", {{4, 5}}, [](In x) {
    return cross_entropy(x[0], IntTensor{{4}, {0, 3, 4, 1}});
  }));
  add_case(check("cross_entropy/ignore_index", "logits (2,3,5), targets (2,3) with padding",
                 {{2, 3, 5}}, [](In x) {
                   return cross_entropy(x[0], IntTensor{{2, 3}, {2, -100, 4, 0, -100, -100}});
                 }));
  add_case(check("cross_entropy/label_smoothing", "logits (3,6), e=0.1", {{3, 6}}, [](In x) {
    return cross_entropy(x[0], IntTensor{{3}, {5, 0, 2}}, -100, 0.1);
  }));
  return cases;
}

}  // namespace attnlab
