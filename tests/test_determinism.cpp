// The same seed gives bit-identical outputs and gradients with 1 and 2
// OpenMP threads: every reduction has a fixed order (autograd/parallel.h).
#include "autograd/parallel.h"

#include <catch2/catch.hpp>
#include <cstring>

#include "autograd/ops.h"
#include "optim/optim.h"

using namespace attnlab;

namespace {

struct RunResult {
  std::vector<float> loss, grads;
};

// A transformer-shaped computation large enough that every kernel splits
// its work across threads.
RunResult run_once(int threads) {
  ThreadCountScope scope(threads);
  Generator gen{2024, 0};
  const int64_t B = 4, T = 64, C = 96, V = 50, H = 4;
  Tensor emb = rand_normal({V, C}, gen, 0, 0.5).set_requires_grad(true);
  Tensor w = rand_normal({3 * C, C}, gen, 0, 0.1).set_requires_grad(true);
  Tensor bias = rand_normal({3 * C}, gen, 0, 0.1).set_requires_grad(true);
  Tensor gamma = rand_normal({C}, gen, 1, 0.1).set_requires_grad(true);
  Tensor beta = rand_normal({C}, gen, 0, 0.1).set_requires_grad(true);
  IntTensor ids{{B, T}, {}}, targets{{B, T}, {}};
  for (int64_t i = 0; i < B * T; ++i) {
    ids.data.push_back(int32_t(i * 7 % V));
    targets.data.push_back(i % 11 == 0 ? -100 : int32_t(i * 3 % V));
  }
  Tensor x = layer_norm(embedding(emb, ids), gamma, beta);  // (B,T,C)
  Tensor qkv = linear(x, w, bias);                          // (B,T,3C)
  Tensor q = split_heads(slice(qkv, 2, 0, C), H);           // (B,H,T,D)
  Tensor k = split_heads(slice(qkv, 2, C, 2 * C), H);
  Tensor v = split_heads(slice(qkv, 2, 2 * C, 3 * C), H);
  Tensor s = mul_scalar(matmul(q, k, false, true), 0.2);  // (B,H,T,T)
  Tensor a = softmax(masked_fill(s, causal_mask(T, T), -INFINITY));
  Tensor o = merge_heads(matmul(a, v));  // (B,T,C)
  // The fused path, heads read in place from (B,T,C), beside the composed one.
  const Mask causal = causal_mask(T, T);
  Tensor qc = slice(qkv, 2, 0, C), kc = slice(qkv, 2, C, 2 * C), vc = slice(qkv, 2, 2 * C, 3 * C);
  Tensor fused = attention_values(attention_weights(qc, kc, 0.2, Tensor(), &causal, H), vc, H);
  o = add(o, gelu(fused, GeluApprox::Erf));  // (B,T,C)
  Generator drop{9, 0};
  Tensor h = dropout(gelu(o, GeluApprox::Tanh), 0.1, drop, true);
  Tensor logits = matmul(h, emb, false, true);  // (B,T,V)
  Tensor loss = add(cross_entropy(logits, targets, -100, 0.1), mean(rms_norm(h, gamma)));
  loss.backward();
  // and an AdamW step on every parameter
  Optimizer opt({{"emb", emb},
                 {"proj/weight", w},
                 {"proj/bias", bias},
                 {"norm/weight", gamma},
                 {"norm/bias", beta}},
                OptimizerConfig{});
  opt.step(1e-3);
  RunResult r;
  r.loss.push_back(float(loss.item()));
  for (const Tensor& p : {emb, w, bias, gamma, beta})
    for (int64_t i = 0; i < p.numel(); ++i) r.grads.push_back(p.data<float>()[i]);
  for (const Tensor& p : {emb, w, bias, gamma, beta})
    for (int64_t i = 0; i < p.numel(); ++i) r.grads.push_back(p.grad().data<float>()[i]);
  return r;
}

}  // namespace

TEST_CASE("determinism: 1 and 2 threads give bit-identical loss and gradients") {
  RunResult one = run_once(1), two = run_once(2);
  REQUIRE(one.grads.size() == two.grads.size());
  REQUIRE(std::memcmp(one.loss.data(), two.loss.data(), sizeof(float)) == 0);
  REQUIRE(std::memcmp(one.grads.data(), two.grads.data(), one.grads.size() * sizeof(float)) == 0);
  // And the run is not trivially constant.
  double norm = 0;
  for (float g : one.grads) norm += double(g) * g;
  REQUIRE(norm > 0);
}
