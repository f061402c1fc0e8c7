// Milliseconds per training step (forward + backward + AdamW) of GPT, BERT and
// T5 configured like the PyTorch peer (../shared/bench/torch_ref.py, run by
// bench/vs_torch.sh in the same session): pre-LN LayerNorm blocks, erf GELU
// FFN of 4d, learned positions, biases, tied LM head, no dropout. GPT: next-
// token loss; BERT: 2-class loss on [CLS]; T5: teacher-forced loss.
//   bench_train --model gpt|bert|t5 --config A|B|C|D [--steps N] [--threads N]
//   or the shape itself: --vocab V --d D --layers L --heads H --seq T --batch B
// Prints "model config: X ms/step (median of N, after 2 warm-up steps)".
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "autograd/parallel.h"
#include "models/model.h"
#include "optim/optim.h"

using namespace attnlab;

namespace {

struct BenchShape {
  int64_t vocab, d, layers, heads, seq, batch;
};

// The configurations (V, d, L, H, T, B).
const std::map<std::string, BenchShape> kConfigs = {{"A", {64, 64, 2, 4, 32, 32}},
                                               {"B", {64, 128, 4, 4, 64, 32}},
                                               {"C", {256, 256, 6, 8, 128, 16}},
                                               {"D", {512, 384, 6, 6, 256, 8}}};

ModelConfig peer_config(Family f, const BenchShape& s) {
  ModelConfig c = preset(f);
  c.vocab_size = s.vocab;
  c.d_model = s.d;
  c.n_heads = s.heads;
  c.d_ff = 4 * s.d;
  c.n_layers = s.layers;
  c.n_decoder_layers = s.layers;
  c.max_len = s.seq;
  c.dropout = 0;
  c.norm = NormKind::LayerNorm;
  c.placement = NormPlacement::Pre;
  c.final_norm = true;
  c.embedding_norm = false;
  c.activation = Activation::GELU;
  c.bias = true;
  c.scale_scores = true;
  c.positions = PositionScheme::Learned;
  c.tie_embeddings = true;
  c.scale_tied_logits = false;
  c.embedding_std = c.init_std;
  c.num_classes = 2;
  return c;
}

IntTensor random_ids(int64_t b, int64_t t, int64_t vocab, uint64_t seed) {
  IntTensor ids{{b, t}, std::vector<int32_t>(static_cast<size_t>(b * t))};
  uint64_t x = seed;
  for (int32_t& id : ids.data) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    id = int32_t((x >> 33) % uint64_t(vocab));
  }
  return ids;
}

Tensor loss_of(const Model& m, const IntTensor& x, const IntTensor& y) {
  switch (m.config().family) {
    case Family::GPT:
      return cross_entropy(m.decode(x, nullptr), y);
    case Family::BERT: {
      IntTensor labels{{x.shape[0]}, {}};
      for (int64_t r = 0; r < x.shape[0]; ++r)
        labels.data.push_back(y.data[size_t(r * x.shape[1])] % 2);
      return cross_entropy(m.classify(x, nullptr), labels);
    }
    default: {
      const Tensor memory = m.encode(x, nullptr);
      return cross_entropy(m.decode(y, nullptr, &memory, nullptr), x);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string model = "gpt", config;
  BenchShape shape = kConfigs.at("B");
  int steps = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    const int64_t n = std::atoll(value.c_str());
    if (key == "--model")
      model = value;
    else if (key == "--config") {
      if (!kConfigs.count(value)) {
        std::fprintf(stderr, "bench_train: --config %s: expected A, B, C or D\n", value.c_str());
        return 2;
      }
      config = value;
      shape = kConfigs.at(value);
    } else if (key == "--steps")
      steps = int(n);
    else if (key == "--threads")
      set_thread_count(int(n));
    else if (key == "--vocab")
      shape.vocab = n;
    else if (key == "--d")
      shape.d = n;
    else if (key == "--layers")
      shape.layers = n;
    else if (key == "--heads")
      shape.heads = n;
    else if (key == "--seq")
      shape.seq = n;
    else if (key == "--batch")
      shape.batch = n;
    else {
      std::fprintf(stderr, "bench_train: unknown option %s\n", key.c_str());
      return 2;
    }
  }
  if (steps < 1) steps = 1;
  auto m = make_model(peer_config(family_from_name(model), shape));
  m->train(true);
  OptimizerConfig oc;
  oc.kind = OptimizerKind::AdamW;
  Optimizer opt(m->named_parameters(), oc);
  const IntTensor x = random_ids(shape.batch, shape.seq, shape.vocab, 1);
  const IntTensor y = random_ids(shape.batch, shape.seq, shape.vocab, 2);
  std::vector<double> ms;
  for (int i = 0; i < steps + 2; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    opt.zero_grad();
    loss_of(*m, x, y).backward();
    opt.step(3e-4);
    const double t =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (i >= 2) ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  std::printf("%s %s: %.1f ms/step (median of %d, %d threads, %ld parameters)\n", model.c_str(),
              config.empty() ? "custom" : config.c_str(), ms[ms.size() / 2], steps, thread_count(),
              long(m->parameter_count()));
  return 0;
}
