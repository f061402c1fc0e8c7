// Backward cases of matmul, concat, embedding and cross_entropy that the
// gradient checks do not reach: an operand that needs no gradient, an empty
// batch, a gradient the engine must add to one the tensor already has, and a
// loss whose targets are all ignored.
#include <catch2/catch.hpp>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"

using namespace attnlab;

namespace {

// Distinct, exactly representable values, so gradients compare bit for bit.
Tensor ramp(Shape shape, double offset, bool requires_grad) {
  std::vector<double> v(shape_numel(shape));
  for (size_t i = 0; i < v.size(); ++i) v[i] = offset + 0.25 * double(i % 7) - 0.5 * double(i % 3);
  Tensor t = Tensor::from_vector(v, shape, DType::F64);
  t.set_requires_grad(requires_grad);
  return t;
}

}  // namespace

TEST_CASE("op backward: matmul passes the gradient check for every transpose and batch layout") {
  // M, K, N all differ, so an operand read with the wrong transpose or
  // leading dimension cannot go unnoticed.
  const int64_t m = 5, k = 3, n = 4;
  for (bool ta : {false, true})
    for (bool tb : {false, true})
      for (int layout = 0; layout < 3; ++layout) {  // plain 2-D, batched, shared 2-D b
        Shape a = ta ? Shape{k, m} : Shape{m, k}, b = tb ? Shape{n, k} : Shape{k, n};
        if (layout > 0) a.insert(a.begin(), 2);
        if (layout == 1) b.insert(b.begin(), 2);
        CAPTURE(ta, tb, layout);
        GradCheckResult r = gradcheck(
            [ta, tb](const std::vector<Tensor>& in) { return matmul(in[0], in[1], ta, tb); },
            {gradcheck_input(a, 1), gradcheck_input(b, 2)});
        INFO(r.worst);
        REQUIRE(r.passed);
      }
}

TEST_CASE("op backward: matmul gives a gradient only to the operands that need one") {
  struct Case {
    Shape a, b;
    bool ta, tb;
  };
  // Batched, shared b (folded and per-entry), and plain 2-D products.
  const Case cases[] = {{{2, 3, 4}, {2, 4, 5}, false, false}, {{2, 4, 3}, {2, 5, 4}, true, true},
                        {{2, 3, 4}, {4, 5}, false, false},    {{2, 4, 3}, {5, 4}, true, true},
                        {{2, 4, 3}, {4, 5}, true, false},     {{3, 4}, {5, 4}, false, true}};
  for (const Case& c : cases) {
    Tensor a = ramp(c.a, 0.5, true), b = ramp(c.b, -0.75, true);
    Tensor seed = ramp(matmul(a, b, c.ta, c.tb).shape(), 1.0, false);
    matmul(a, b, c.ta, c.tb).backward(seed);

    Tensor a_only = ramp(c.a, 0.5, true), b_const = ramp(c.b, -0.75, false);
    matmul(a_only, b_const, c.ta, c.tb).backward(seed);
    REQUIRE(a_only.grad().to_vector() == a.grad().to_vector());
    REQUIRE_FALSE(b_const.grad().defined());

    Tensor a_const = ramp(c.a, 0.5, false), b_only = ramp(c.b, -0.75, true);
    matmul(a_const, b_only, c.ta, c.tb).backward(seed);
    REQUIRE(b_only.grad().to_vector() == b.grad().to_vector());
    REQUIRE_FALSE(a_const.grad().defined());
  }
}

TEST_CASE("op backward: a shared b over an empty batch gets a zero gradient") {
  // Transposed a sums the batch entry by entry; plain a folds it into one GEMM.
  for (bool ta : {true, false}) {
    Tensor a = ramp(ta ? Shape{0, 4, 3} : Shape{0, 3, 4}, 0.0, true);
    Tensor b = ramp({4, 5}, 1.0, true);
    Tensor c = matmul(a, b, ta, false);  // (0,3,5)
    c.backward(Tensor::zeros(c.shape(), DType::F64));
    REQUIRE(b.grad().shape() == Shape{4, 5});
    REQUIRE(b.grad().to_vector() == std::vector<double>(20, 0.0));
  }
}

TEST_CASE("op backward: concat skips inputs that need no gradient") {
  Tensor x = ramp({2, 2}, 0.0, true), k = ramp({2, 1}, 3.0, false);
  Tensor y = concat({k, x, k}, 1);  // (2,4)
  y.backward(Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8}, {2, 4}, DType::F64));
  REQUIRE(x.grad().to_vector() == std::vector<double>{2, 3, 6, 7});
  REQUIRE_FALSE(k.grad().defined());
}

TEST_CASE("op backward: embedding adds to a gradient the table already has") {
  Tensor w = ramp({3, 2}, 0.0, true);
  // The tied-head pattern: the table feeds another op as well as the lookup.
  Tensor loss = add(sum(embedding(w, IntTensor{{3}, {0, 2, 0}})), sum(mul_scalar(w, 2.0)));
  loss.backward();
  REQUIRE(w.grad().to_vector() == std::vector<double>{4, 4, 2, 2, 3, 3});
}

TEST_CASE("op backward: cross_entropy with every target ignored passes no gradient") {
  Tensor logits = ramp({2, 3}, 0.0, true);
  Tensor loss = cross_entropy(logits, IntTensor{{2}, {-100, -100}});
  REQUIRE(loss.item() == 0.0);
  loss.backward();
  Tensor g = logits.grad();
  if (g.defined()) REQUIRE(g.to_vector() == std::vector<double>(6, 0.0));
}
