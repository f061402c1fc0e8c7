// The autograd engine's contract: accumulation, no-grad scopes, graph
// release, leaf gradients, seeds, and that the checker catches a wrong
// backward.
#include <catch2/catch.hpp>

#include "autograd/accounting.h"
#include "autograd/gradcheck.h"
#include "autograd/kernels/dropout.h"
#include "autograd/op.h"
#include "autograd/ops.h"

using namespace attnlab;
using Catch::Matchers::Contains;

namespace {
Tensor leaf(std::vector<double> v, Shape s, DType dt = DType::F64) {
  Tensor t = Tensor::from_vector(v, s, dt);
  t.set_requires_grad(true);
  return t;
}

// x*x with a deliberately wrong backward (g*x instead of 2*g*x).
Tensor wrong_square(const Tensor& x) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  for (int64_t i = 0; i < x.numel(); ++i)
    y.data<double>()[i] = x.data<double>()[i] * x.data<double>()[i];
  record_op(y, "wrong_square", {x}, [](const BackwardContext& ctx) -> std::vector<Tensor> {
    Tensor dx = ctx.new_grad(0);
    for (int64_t i = 0; i < dx.numel(); ++i)
      dx.data<double>()[i] = ctx.grad_output.data<double>()[i] * ctx.inputs[0].data<double>()[i];
    return {dx};
  });
  return y;
}

// An identity op whose backward returns what `make_grad` builds from the
// output gradient: lets a test hand the engine a malformed gradient.
Tensor identity_with(const Tensor& x, std::function<std::vector<Tensor>(const Tensor&)> make_grad) {
  Tensor y = x.clone();
  record_op(y, "identity_with", {x},
            [make_grad](const BackwardContext& ctx) { return make_grad(ctx.grad_output); });
  return y;
}
}  // namespace

TEST_CASE("autograd: gradients accumulate when a tensor is used twice") {
  Tensor x = leaf({3.0}, {});
  Tensor y = add(mul(x, x), x);  // y = x^2 + x, dy/dx = 2x + 1 = 7
  y.backward();
  REQUIRE(x.grad().item() == Approx(7.0));
  // A second graph adds to the kept leaf gradient until it is zeroed.
  mul_scalar(x, 2.0).backward();
  REQUIRE(x.grad().item() == Approx(9.0));
  x.zero_grad();
  REQUIRE_FALSE(x.grad().defined());
}

TEST_CASE("autograd: the graph is released after backward") {
  Tensor x = leaf({1.0, 2.0}, {2});
  Tensor y = sum(exp(x));
  REQUIRE(y.grad_fn() != nullptr);
  y.backward();
  REQUIRE(y.grad_fn() == nullptr);
  REQUIRE_THROWS_WITH(y.backward(), Contains("already released"));
}

TEST_CASE("autograd: no-grad scope records nothing") {
  Tensor x = leaf({1.0, 2.0}, {2});
  Tensor y;
  {
    NoGradGuard guard;
    y = sum(mul(x, x));
  }
  REQUIRE_FALSE(y.requires_grad());
  REQUIRE(y.grad_fn() == nullptr);
  REQUIRE(grad_enabled());
}

TEST_CASE("autograd: intermediate gradients are not kept, leaf gradients are") {
  Tensor x = leaf({0.5, -0.5}, {2});
  Tensor h = tanh(x);
  sum(h).backward();
  REQUIRE_FALSE(h.grad().defined());
  REQUIRE(x.grad().defined());
  REQUIRE(x.grad().item(0) == Approx(1 - std::tanh(0.5) * std::tanh(0.5)));
}

TEST_CASE("autograd: backward from a non-scalar needs a seed of its shape") {
  Tensor x = leaf({1, 2, 3, 4}, {2, 2});
  Tensor y = mul_scalar(x, 3.0);
  REQUIRE_THROWS_WITH(y.backward(), Contains("not a scalar") && Contains("(2,2)"));
  REQUIRE_THROWS_WITH(y.backward(Tensor::zeros({4}, DType::F64)),
                      Contains("seed gradient f64(4)") && Contains("f64(2,2)"));
  y.backward(Tensor::from_vector({1, 0, 0, 2}, {2, 2}, DType::F64));
  REQUIRE(x.grad().to_vector() == std::vector<double>{3, 0, 0, 6});
}

TEST_CASE("autograd: reshape is a view that shares storage") {
  Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor v = reshape(x, {3, -1});
  REQUIRE(v.shape() == Shape{3, 2});
  REQUIRE(v.raw_data() == x.raw_data());
}

TEST_CASE("autograd: float32 and float64 run the same op code") {
  Tensor x64 = Tensor::from_vector({0.1, -0.2, 0.3, 0.7, 1.5, -2.0}, {2, 3}, DType::F64);
  Tensor x32 = x64.to(DType::F32);
  Tensor y64 = softmax(gelu(x64, GeluApprox::Tanh));
  Tensor y32 = softmax(gelu(x32, GeluApprox::Tanh));
  REQUIRE(y32.dtype() == DType::F32);
  for (int64_t i = 0; i < 6; ++i) REQUIRE(y32.item(i) == Approx(y64.item(i)).epsilon(1e-6));
}

TEST_CASE("gradcheck: the checker catches a deliberately wrong backward") {
  Tensor x = gradcheck_input({3}, 5, 0.5, 1.5);
  GradCheckResult bad =
      gradcheck([](const std::vector<Tensor>& in) { return wrong_square(in[0]); }, {x});
  REQUIRE_FALSE(bad.passed);
  REQUIRE(bad.max_abs_error > 0.1);
  REQUIRE_THAT(bad.worst, Contains("analytic") && Contains("numeric"));
  // The same function with the right backward passes.
  GradCheckResult good =
      gradcheck([](const std::vector<Tensor>& in) { return mul(in[0], in[0]); }, {x});
  REQUIRE(good.passed);
}

TEST_CASE("gradcheck: NaN is reported, not passed") {
  Tensor x = gradcheck_input({2}, 1, -1.0, -0.5);  // log of negatives is NaN
  REQUIRE_THROWS_WITH(gradcheck([](const std::vector<Tensor>& in) { return log(in[0]); }, {x}),
                      Contains("non-finite"));
}

TEST_CASE("gradcheck: float32 inputs are rejected") {
  Tensor x = Tensor::zeros({2});
  x.set_requires_grad(true);
  REQUIRE_THROWS_WITH(gradcheck([](const std::vector<Tensor>& in) { return in[0]; }, {x}),
                      Contains("float64"));
}

TEST_CASE("softmax: fully masked rows give zeros, not NaN") {
  Tensor s = Tensor::from_vector({1, 2, 3, 4}, {2, 2});
  Tensor p = softmax(masked_fill(s, Mask{{2, 1}, {0, 1}}, -INFINITY));
  REQUIRE(p.item(0) + p.item(1) == Approx(1.0));
  REQUIRE(p.item(2) == 0.0);
  REQUIRE(p.item(3) == 0.0);
}

TEST_CASE("softmax: a row of NaN stays NaN, not a masked row of zeros") {
  for (const DType dtype : {DType::F32, DType::F64}) {
    Tensor s = Tensor::from_vector({NAN, NAN, 1, NAN}, {2, 2}, dtype);
    const std::vector<double> p = softmax(s).to_vector();
    for (double v : p) CHECK(std::isnan(v));
    const std::vector<double> lp = log_softmax(s).to_vector();
    for (double v : lp) CHECK(std::isnan(v));
  }
}

TEST_CASE("cross_entropy: matches hand-computed values") {
  // logits (1,3) = [0, ln 2, ln 3]: softmax = [1/6, 2/6, 3/6].
  Tensor logits = Tensor::from_vector({0.0, std::log(2.0), std::log(3.0)}, {1, 3}, DType::F64);
  REQUIRE(cross_entropy(logits, IntTensor{{1}, {2}}).item() == Approx(-std::log(0.5)));
  // Smoothing 0.3 over 3 classes: 0.7 * nll(2) + 0.3 * mean_j nll(j).
  double smooth =
      0.7 * -std::log(0.5) + 0.3 * (-(std::log(1 / 6.0) + std::log(2 / 6.0) + std::log(0.5)) / 3);
  REQUIRE(cross_entropy(logits, IntTensor{{1}, {2}}, -100, 0.3).item() == Approx(smooth));
  // Ignored rows do not count in the mean.
  Tensor two =
      Tensor::from_vector({0.0, std::log(2.0), std::log(3.0), 5, 5, 5}, {2, 3}, DType::F64);
  REQUIRE(cross_entropy(two, IntTensor{{2}, {2, -100}}).item() == Approx(-std::log(0.5)));
}

TEST_CASE("dropout: seeded, scaled, identity in eval") {
  Tensor x = Tensor::full({1000}, 1.0);
  Generator g1{42, 0}, g2{42, 0};
  Tensor a = dropout(x, 0.25, g1, true), b = dropout(x, 0.25, g2, true);
  REQUIRE(a.to_vector() == b.to_vector());
  REQUIRE(g1.offset == 1000);
  int zeros = 0;
  for (double v : a.to_vector()) {
    if (v == 0)
      ++zeros;
    else
      REQUIRE(v == Approx(1 / 0.75));
  }
  REQUIRE(zeros > 200);
  REQUIRE(zeros < 300);
  Generator g3{42, 0};
  REQUIRE(dropout(x, 0.25, g3, false).raw_data() == x.raw_data());
}

TEST_CASE("dropout: element i is dropped exactly when Generator::uniform(seed, offset + i) < p") {
  // The kernel decides in integers (vectorised); this is the definition.
  // p = 0.5 and 0.25 make p 2^53 an integer, the boundary of that test.
  for (const double p : {0.1, 0.25, 0.5, 0.9, 1e-6}) {
    for (const DType dtype : {DType::F32, DType::F64}) {
      const int64_t n = 20000;
      Tensor x = Tensor::full({n}, 2.0, dtype);
      Generator gen{7, 123};
      const std::vector<double> y = dropout(x, p, gen, true).to_vector();
      int64_t mismatches = 0;
      for (int64_t i = 0; i < n; ++i) {
        const bool dropped = Generator::uniform(7, 123 + uint64_t(i)) < p;
        const double want = dropped
                                ? 0.0
                                : double(dtype == DType::F32 ? float(2.0 * float(1.0 / (1.0 - p)))
                                                             : 2.0 * (1.0 / (1.0 - p)));
        mismatches += y[size_t(i)] != want;
      }
      INFO("p " << p);
      CHECK(mismatches == 0);
    }
  }
}

TEST_CASE("dropout: the integer threshold is uniform < p, at its boundary too") {
  // uniform = k 2^-53, dropped exactly when k < ceil(p 2^53). Random draws
  // never land on the boundary, so the two integers around it are checked
  // against uniform's own comparison directly.
  for (const double p : {0.5, 0.25, 0.1, 1e-6, 0.999}) {
    const uint64_t t = dropout_threshold(p);
    INFO("p " << p << " threshold " << t);
    CHECK(double(t - 1) * 0x1p-53 < p);  // k = t - 1: uniform < p, dropped
    CHECK(!(double(t) * 0x1p-53 < p));   // k = t: kept
  }
  // and dropout_drops is that comparison on the stream's own k
  for (uint64_t counter = 0; counter < 5000; ++counter)
    for (const double p : {0.5, 0.1}) {
      INFO("counter " << counter << " p " << p);
      CHECK(dropout_drops(3, counter, dropout_threshold(p)) ==
            (Generator::uniform(3, counter) < p));
    }
}

TEST_CASE("autograd: the engine checks every gradient a backward returns and names the op") {
  Tensor x = leaf({1.0, 2.0}, {2});
  SECTION("wrong shape") {
    Tensor y = identity_with(
        x, [](const Tensor&) { return std::vector<Tensor>{Tensor::zeros({3}, DType::F64)}; });
    REQUIRE_THROWS_WITH(sum(y).backward(), Contains("backward of identity_with") &&
                                               Contains("input 0 is f64(3)") &&
                                               Contains("input is f64(2)"));
  }
  SECTION("wrong dtype") {
    Tensor y = identity_with(
        x, [](const Tensor& g) { return std::vector<Tensor>{Tensor::zeros({2}, DType::F32)}; });
    REQUIRE_THROWS_WITH(sum(y).backward(),
                        Contains("backward of identity_with") && Contains("f32(2)"));
  }
  SECTION("wrong count") {
    Tensor y = identity_with(x, [](const Tensor& g) { return std::vector<Tensor>{g, g}; });
    REQUIRE_THROWS_WITH(sum(y).backward(), Contains("returned 2 gradients for 1 inputs"));
  }
  SECTION("an error inside a backward") {
    Tensor y = identity_with(x, [](const Tensor& g) -> std::vector<Tensor> {
      throw std::invalid_argument("kernel refused");
    });
    REQUIRE_THROWS_WITH(sum(y).backward(), Contains("backward of identity_with: kernel refused"));
  }
}

TEST_CASE("autograd: a gradient tensor returned for two inputs does not become a shared buffer") {
  Tensor x = leaf({1.0, 2.0}, {2}), z = leaf({3.0, 4.0}, {2});
  Tensor y = x.clone();
  record_op(y, "same_grad_twice", {x, z}, [](const BackwardContext& ctx) -> std::vector<Tensor> {
    Tensor t = ctx.grad_output.clone();
    return {t, t};
  });
  sum(y).backward();
  sum(x).backward();  // adds 1 to x.grad only
  REQUIRE(x.grad().to_vector() == std::vector<double>{2.0, 2.0});
  REQUIRE(z.grad().to_vector() == std::vector<double>{1.0, 1.0});
}

TEST_CASE("autograd: an intermediate's shared gradient is copied on its next contribution") {
  // y = a + b hands one gradient tensor G to both a and b (intermediates).
  // The backward then reaches p = a + z, whose gradient for a must go to a new
  // buffer: added into G in place, it would also change b's gradient, which
  // b's backward reads later.
  Tensor x = leaf({1.0, 2.0}, {2}), w = leaf({5.0, 7.0}, {2});
  Tensor a = mul(x, w), b = mul(x, x);  // intermediates
  Tensor y = add(a, b);
  Tensor z = mul_scalar(b, 3.0);
  Tensor p = add(a, z);
  sum(add(p, y)).backward();  // loss = sum(2a + 4b)
  // d/dx = 2w + 8x, d/dw = 2x
  REQUIRE(x.grad().to_vector() == std::vector<double>{18.0, 30.0});
  REQUIRE(w.grad().to_vector() == std::vector<double>{2.0, 4.0});
}

TEST_CASE("accounting: FlopCount counts 2*m*n*k per matrix product, and nests") {
  Tensor a = Tensor::full({3, 4, 5}, 1.0);  // batch 3 of (4,5)
  Tensor b = Tensor::full({5, 6}, 1.0);
  FlopCount outer;
  {
    FlopCount inner;
    matmul(a, b);                                 // 3 x 4x5 @ 5x6
    CHECK(inner.flops() == 2.0 * 3 * 4 * 6 * 5);  // 720
  }
  linear(Tensor::full({2, 5}, 1.0), Tensor::full({7, 5}, 1.0), Tensor());  // 2x5 @ 5x7
  CHECK(outer.flops() == 720 + 2.0 * 2 * 7 * 5);
}

TEST_CASE("accounting: graph_bytes counts each activation once and no parameter") {
  Tensor w = Tensor::full({4, 4}, 0.5);
  w.set_requires_grad(true);
  Tensor x = Tensor::full({2, 4}, 1.0);  // 32 bytes, an input without grad
  Tensor h = matmul(x, w);               // 32 bytes
  Tensor y = add(h, h);                  // 32 bytes; h is reached twice
  Tensor r = reshape(y, {8});            // a view of y: no new storage
  CHECK(graph_bytes(r) == 3 * 2 * 4 * 4);
  CHECK(graph_bytes(w) == 0);  // a parameter alone
}

TEST_CASE("accounting: TensorMemory tracks live storage and its peak") {
  const int64_t before = TensorMemory::live();
  TensorMemory::reset_peak();
  {
    Tensor big = Tensor::empty({1000});  // 4000 bytes
    CHECK(TensorMemory::live() == before + 4000);
  }
  CHECK(TensorMemory::live() == before);
  CHECK(TensorMemory::peak() >= before + 4000);
}
