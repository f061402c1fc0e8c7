// Optimizer updates against values worked out by hand from PyTorch's update
// rules; schedules at known points; clipping; weight-decay groups.
#include <catch2/catch.hpp>
#include <cmath>

#include "autograd/ops.h"
#include "optim/optim.h"

using namespace attnlab;

namespace {
// One scalar parameter "w" with value w0, and a function to set its grad.
struct Scalar {
  Tensor w;
  explicit Scalar(double w0) : w(Tensor::full({1}, w0, DType::F64)) { w.set_requires_grad(true); }
  void set_grad(double g) {
    w.zero_grad();
    Tensor x = Tensor::full({1}, g, DType::F64);
    // d(w * g)/dw = g
    sum(mul(w, x)).backward();
  }
};
}  // namespace

TEST_CASE("optim: SGD with momentum follows buf = m*buf + g, w -= lr*buf") {
  Scalar s(1.0);
  OptimizerConfig c;
  c.kind = OptimizerKind::SGD;
  c.momentum = 0.9;
  c.weight_decay = 0.0;
  Optimizer opt({{"w", s.w}}, c);
  s.set_grad(0.5);
  opt.step(0.1);  // buf = 0.5, w = 1 - 0.05 = 0.95
  CHECK(s.w.item() == Approx(0.95).epsilon(1e-12));
  s.set_grad(0.5);
  opt.step(0.1);  // buf = 0.45 + 0.5 = 0.95, w = 0.95 - 0.095 = 0.855
  CHECK(s.w.item() == Approx(0.855).epsilon(1e-12));
}

TEST_CASE("optim: Adam's first steps move by lr (bias correction) and L2 enters the gradient") {
  Scalar s(1.0);
  OptimizerConfig c;
  c.kind = OptimizerKind::Adam;
  c.beta1 = 0.9;
  c.beta2 = 0.999;
  c.eps = 1e-8;
  c.weight_decay = 0.0;
  Optimizer opt({{"w", s.w}}, c);
  s.set_grad(2.0);
  opt.step(0.01);  // m_hat = g, v_hat = g^2 -> step = lr * g/|g| = 0.01
  CHECK(s.w.item() == Approx(1.0 - 0.01).epsilon(1e-9));
  s.set_grad(-1.0);
  opt.step(0.01);
  // m = 0.9*0.2 + 0.1*(-1) = 0.08; v = 0.999*0.004 + 0.001*1 = 0.004996
  const double m_hat = 0.08 / (1 - 0.81), v_hat = 0.004996 / (1 - 0.998001);
  CHECK(s.w.item() == Approx(0.99 - 0.01 * m_hat / (std::sqrt(v_hat) + 1e-8)).epsilon(1e-9));

  Scalar l2(2.0);
  c.weight_decay = 0.5;
  Optimizer opt2({{"layer/weight", l2.w}}, c);
  l2.set_grad(0.0);  // the whole gradient is wd * w = 1.0 -> moves by lr
  opt2.step(0.01);
  CHECK(l2.w.item() == Approx(2.0 - 0.01).epsilon(1e-9));
}

TEST_CASE("optim: AdamW decays weights but not biases, norms or embeddings") {
  OptimizerConfig c;
  c.kind = OptimizerKind::AdamW;
  c.weight_decay = 0.1;
  Scalar weight(1.0), bias(1.0);
  Optimizer opt(
      {{"decoder/layers/0/ffn/fc1/weight", weight.w}, {"decoder/layers/0/ffn/fc1/bias", bias.w}},
      c);
  weight.set_grad(0.0);
  bias.set_grad(0.0);
  opt.step(0.5);  // zero gradient: only the decoupled decay moves the weight
  CHECK(weight.w.item() == Approx(1.0 * (1 - 0.5 * 0.1)).epsilon(1e-12));
  CHECK(bias.w.item() == 1.0);
  CHECK(decays("encoder/layers/1/self_attn/q_proj/weight"));
  CHECK_FALSE(decays("encoder/layers/1/self_attn/q_proj/bias"));
  CHECK_FALSE(decays("encoder/layers/1/ffn_norm/weight"));
  CHECK_FALSE(decays("token_embedding/weight"));
  CHECK_FALSE(decays("shared/weight"));
  CHECK_FALSE(decays("embeddings/position/weight"));
  CHECK_FALSE(decays("decoder/relative_bias/weight"));
  CHECK_FALSE(decays("mlm_bias"));
}

TEST_CASE("optim: schedules") {
  // Linear warmup to the peak, for every schedule.
  for (ScheduleKind k :
       {ScheduleKind::Constant, ScheduleKind::WarmupCosine, ScheduleKind::InverseSqrt}) {
    CHECK(schedule_lr(k, 1e-3, 5, 10, 100) == Approx(5e-4));
    CHECK(schedule_lr(k, 1e-3, 10, 10, 100) == Approx(1e-3));
  }
  CHECK(schedule_lr(ScheduleKind::Constant, 1e-3, 90, 10, 100) == Approx(1e-3));
  // Cosine: half way through the decay it is half way to the floor.
  CHECK(schedule_lr(ScheduleKind::WarmupCosine, 1.0, 55, 10, 100, 0.1) == Approx(0.55));
  CHECK(schedule_lr(ScheduleKind::WarmupCosine, 1.0, 100, 10, 100, 0.1) == Approx(0.1));
  // Noam: peak * sqrt(warmup / step).
  CHECK(schedule_lr(ScheduleKind::InverseSqrt, 1.0, 40, 10, 100) == Approx(0.5));
  CHECK_THROWS_WITH(enum_from_name(kScheduleNames, "linear", "schedule"),
                    Catch::Contains("schedule: 'linear' is not one of constant, cosine or noam"));
}

TEST_CASE("optim: global-norm clipping scales every gradient by one factor") {
  Scalar a(1.0), b(1.0);
  a.set_grad(3.0);
  b.set_grad(4.0);
  NamedTensors params{{"a", a.w}, {"b", b.w}};
  CHECK(clip_grad_norm(params, 10.0) == Approx(5.0));  // below the cap: untouched
  CHECK(a.w.grad().item() == 3.0);
  CHECK(clip_grad_norm(params, 1.0) == Approx(5.0));
  CHECK(a.w.grad().item() == Approx(0.6).epsilon(1e-5));
  CHECK(b.w.grad().item() == Approx(0.8).epsilon(1e-5));
}
