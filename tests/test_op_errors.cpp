// Bad input to ops: every message names the op, the argument and the shapes.
#include <catch2/catch.hpp>

#include "autograd/ops.h"

using namespace attnlab;
using Catch::Matchers::Contains;

TEST_CASE("errors: broadcasting mismatch names both shapes") {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4});
  REQUIRE_THROWS_AS(add(a, b), std::invalid_argument);
  REQUIRE_THROWS_WITH(add(a, b), Contains("add") && Contains("(2,3)") && Contains("(4)"));
  REQUIRE_THROWS_WITH(mul(a, Tensor::zeros({3, 3})), Contains("mul") && Contains("(3,3)"));
}

TEST_CASE("errors: dtype mismatch") {
  Tensor a = Tensor::zeros({2}), b = Tensor::zeros({2}, DType::F64);
  REQUIRE_THROWS_WITH(sub(a, b),
                      Contains("sub: dtype mismatch") && Contains("f32(2)") && Contains("f64(2)"));
  REQUIRE_THROWS_WITH(matmul(Tensor::zeros({2, 2}), Tensor::zeros({2, 2}, DType::F64)),
                      Contains("matmul: dtype mismatch"));
  REQUIRE_THROWS_WITH(a.data<double>(), Contains("asked for float64"));
}

TEST_CASE("errors: matmul inner and batch dimensions") {
  REQUIRE_THROWS_WITH(matmul(Tensor::zeros({2, 3, 4}), Tensor::zeros({5, 6})),
                      Contains("inner dimensions differ") && Contains("(2,3,4)") &&
                          Contains("K=4") && Contains("(5,6)") && Contains("K=5"));
  REQUIRE_THROWS_WITH(matmul(Tensor::zeros({2, 3, 4}), Tensor::zeros({3, 4, 5})),
                      Contains("batch dimensions differ"));
  REQUIRE_THROWS_WITH(matmul(Tensor::zeros({4}), Tensor::zeros({4, 5})),
                      Contains("at least 2 dims"));
  REQUIRE_THROWS_WITH(linear(Tensor::zeros({2, 3}), Tensor::zeros({5, 4})),
                      Contains("linear") && Contains("x (2,3)") && Contains("weight (5,4)"));
}

TEST_CASE("errors: embedding index out of range") {
  Tensor w = Tensor::zeros({10, 4});
  REQUIRE_THROWS_WITH(
      embedding(w, IntTensor{{2, 2}, {1, 2, 10, 3}}),
      Contains("embedding: id 10 at flat position 2") && Contains("table of 10 rows"));
  REQUIRE_THROWS_WITH(embedding(w, IntTensor{{1}, {-1}}), Contains("id -1"));
  REQUIRE_THROWS_WITH(embedding(w, IntTensor{{3}, {1, 2}}), Contains("2 values for shape (3)"));
}

TEST_CASE("errors: shape ops") {
  Tensor x = Tensor::zeros({2, 3});
  REQUIRE_THROWS_WITH(reshape(x, {4, -1}), Contains("reshape: cannot reshape (2,3)"));
  REQUIRE_THROWS_WITH(reshape(x, {-1, -1}), Contains("only one dimension can be -1"));
  REQUIRE_THROWS_WITH(permute(x, {0, 0}), Contains("appears twice"));
  REQUIRE_THROWS_WITH(slice(x, 1, 2, 5), Contains("slice: range [2, 5)") && Contains("(2,3)"));
  REQUIRE_THROWS_WITH(concat({x, Tensor::zeros({3, 3})}, 1),
                      Contains("concat: tensor 1 has shape (3,3)"));
  REQUIRE_THROWS_WITH(sum(x, 2), Contains("sum: dim 2 is out of range for a tensor of rank 2"));
  REQUIRE_THROWS_WITH(split_heads(Tensor::zeros({2, 3, 5}), 2), Contains("divisible by H=2"));
}

TEST_CASE("errors: masks, norms and losses") {
  Tensor s = Tensor::zeros({2, 4, 4});
  REQUIRE_THROWS_WITH(masked_fill(s, Mask{{2, 5}, std::vector<uint8_t>(10)}, 0),
                      Contains("mask of shape (2,5) does not broadcast") && Contains("(2,4,4)"));
  REQUIRE_THROWS_WITH(layer_norm(s, Tensor::zeros({3}), Tensor::zeros({3})),
                      Contains("layer_norm") && Contains("gamma (3)"));
  REQUIRE_THROWS_WITH(cross_entropy(Tensor::zeros({3, 5}), IntTensor{{2}, {0, 1}}),
                      Contains("targets must have shape (3)"));
  REQUIRE_THROWS_WITH(cross_entropy(Tensor::zeros({2, 5}), IntTensor{{2}, {0, 7}}),
                      Contains("target 7 at flat position 1 is out of range for 5 classes"));
  REQUIRE_THROWS_WITH(causal_mask(5, 3), Contains("Tq=5 Tk=3"));
  const Tensor q = Tensor::zeros({2, 3, 4, 8}), k = Tensor::zeros({2, 3, 6, 8});
  const Mask wrong{{2, 1, 1, 5}, std::vector<uint8_t>(10)};
  REQUIRE_THROWS_WITH(attention_weights(q, k, 1.0, Tensor(), &wrong),
                      Contains("mask (2,1,1,5) does not broadcast") && Contains("(2,3,4,6)"));
  REQUIRE_THROWS_WITH(attention_weights(q, k, 1.0, Tensor::zeros({1, 3, 4, 5}), nullptr),
                      Contains("bias (1,3,4,5) does not match scores (2,3,4,6)"));
  REQUIRE_THROWS_WITH(attention_weights(q, Tensor::zeros({2, 3, 6, 7}), 1.0, Tensor(), nullptr),
                      Contains("q (2,3,4,8) and k (2,3,6,7) differ in batch, heads or head size"));
  REQUIRE_THROWS_WITH(attention_weights(Tensor::zeros({2, 4, 10}), Tensor::zeros({2, 6, 10}), 1.0,
                                        Tensor(), nullptr, 3),
                      Contains("expected q (B,T,H*D) with H=3, got (2,4,10)"));
  REQUIRE_THROWS_WITH(attention_values(Tensor::zeros({2, 3, 4, 5}), Tensor::zeros({2, 6, 9}), 3),
                      Contains("weights (2,3,4,5) do not match values (2,6,9)"));
}
