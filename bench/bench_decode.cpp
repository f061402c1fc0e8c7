// Greedy generation speed: KV-cached decoding against full recomputation of
// the whole sequence at every step (the reference path), both measured in the
// same run, for GPT and T5 at the dates recipes' sizes. Prints Markdown tables:
//   1. tokens/s for 128 generated tokens, batch 1 and 64, cached vs recompute;
//   2. cached cost per generated token as the output grows (32..256 tokens):
//      it should stay nearly flat, while recomputation's grows with length.
//   bench_decode [--quick] [--threads N]
// Generation never stops early (EOS is ignored) so every run makes the same
// number of tokens; the models are untrained (speed does not depend on the weights).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "autograd/parallel.h"
#include "models/model.h"

using namespace attnlab;

namespace {

constexpr int64_t kPrompt = 16;  // prompt (GPT) or source (T5) tokens

ModelConfig recipe_size(Family f, int64_t max_len) {
  ModelConfig c = preset(f);  // dates recipes: d128, 4 heads, d_ff 256, GPT 3 / T5 2+2 blocks
  c.vocab_size = 64;
  c.d_model = 128;
  c.n_heads = 4;
  c.d_ff = 256;
  c.n_layers = f == Family::GPT ? 3 : 2;
  c.n_decoder_layers = 2;
  c.dropout = 0;
  c.max_len = max_len;
  return c;
}

int32_t argmax(const Tensor& logits, int64_t offset, int64_t v) {
  int32_t best = 0;
  for (int64_t k = 1; k < v; ++k)
    if (logits.item(offset + k) > logits.item(offset + best)) best = int32_t(k);
  return best;
}

struct Setup {
  IntTensor prompt;  // (B, kPrompt)
  Tensor memory;     // T5: the encoded source
};

Setup make_setup(const Model& m, int64_t batch) {
  Setup s;
  s.prompt = IntTensor{{batch, kPrompt}, std::vector<int32_t>(size_t(batch * kPrompt))};
  for (size_t i = 0; i < s.prompt.data.size(); ++i) s.prompt.data[i] = int32_t(4 + i % 50);
  if (m.architecture() == Architecture::EncoderDecoder) s.memory = m.encode(s.prompt, nullptr);
  return s;
}

// Seconds to generate `tokens` tokens per row (after the source is encoded).
double generate(const Model& m, const Setup& s, int64_t tokens, bool cached) {
  NoGradGuard no_grad;
  const int64_t b = s.prompt.shape[0], v = m.config().vocab_size;
  const bool t5 = m.architecture() == Architecture::EncoderDecoder;
  const Tensor* memory = t5 ? &s.memory : nullptr;
  // GPT continues the prompt; T5's decoder starts from BOS (id 1).
  std::vector<std::vector<int32_t>> seqs(static_cast<size_t>(b));
  for (int64_t r = 0; r < b; ++r)
    seqs[size_t(r)] = t5 ? std::vector<int32_t>{1}
                         : std::vector<int32_t>(s.prompt.data.begin() + r * kPrompt,
                                                s.prompt.data.begin() + (r + 1) * kPrompt);
  const int64_t start_len = int64_t(seqs[0].size());
  const auto t0 = std::chrono::steady_clock::now();
  if (cached) {
    DecodeCache cache = m.start_decoding(b, start_len + tokens, memory);
    IntTensor first{{b, start_len}, {}};
    for (const auto& row : seqs) first.data.insert(first.data.end(), row.begin(), row.end());
    Tensor logits = m.decode_cached(first, std::vector<int64_t>(size_t(b), 0), cache);
    int64_t stride = start_len, last = start_len - 1;
    for (int64_t step = 0; step < tokens; ++step) {
      IntTensor next{{b, 1}, std::vector<int32_t>(size_t(b))};
      for (int64_t r = 0; r < b; ++r)
        next.data[size_t(r)] = argmax(logits, (r * stride + last) * v, v);
      if (step + 1 == tokens) break;
      logits = m.decode_cached(next, std::vector<int64_t>(size_t(b), start_len + step), cache);
      stride = 1;
      last = 0;
    }
  } else {
    for (int64_t step = 0; step < tokens; ++step) {
      const int64_t len = int64_t(seqs[0].size());
      IntTensor ids{{b, len}, {}};
      for (const auto& row : seqs) ids.data.insert(ids.data.end(), row.begin(), row.end());
      Tensor logits = m.decode(ids, nullptr, memory, nullptr);  // (B,len,V)
      for (int64_t r = 0; r < b; ++r)
        seqs[size_t(r)].push_back(argmax(logits, (r * len + len - 1) * v, v));
    }
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double best_of(int reps, const std::function<double()>& run) {
  double best = 1e300;
  for (int i = 0; i < reps; ++i) best = std::min(best, run());
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick"))
      quick = true;
    else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc)
      set_thread_count(std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: bench_decode [--quick] [--threads N]\n");
      return 2;
    }
  }
  const int reps = quick ? 1 : 3;
  const int64_t n = 128;
  std::printf(
      "## Greedy generation of %ld tokens (prompt/source %ld tokens, %d threads, best of %d)\n\n",
      n, kPrompt, thread_count(), reps);
  std::printf("| model | batch | cached tokens/s | recompute tokens/s | speed-up |\n");
  std::printf("| --- | --: | --: | --: | --: |\n");
  for (Family f : {Family::GPT, Family::T5}) {
    auto model = make_model(recipe_size(f, 512));
    model->train(false);
    for (int64_t batch : {int64_t(1), int64_t(64)}) {
      Setup s = make_setup(*model, batch);
      const double cached = best_of(reps, [&] { return generate(*model, s, n, true); });
      const double full = best_of(quick ? 1 : 2, [&] { return generate(*model, s, n, false); });
      std::printf("| %s | %ld | %.0f | %.0f | %.1fx |\n", family_name(f), batch,
                  double(batch * n) / cached, double(batch * n) / full, full / cached);
      std::fflush(stdout);
    }
  }
  std::printf("\n## Cached: milliseconds per generated token as the output grows (batch 1)\n\n");
  std::printf(
      "| model | 32 | 64 | 128 | 256 | 256 / 32 |\n| --- | --: | --: | --: | --: | --: |\n");
  for (Family f : {Family::GPT, Family::T5}) {
    auto model = make_model(recipe_size(f, 512));
    model->train(false);
    Setup s = make_setup(*model, 1);
    std::vector<double> ms;
    for (int64_t tokens : {32, 64, 128, 256})
      ms.push_back(1e3 * best_of(reps, [&] { return generate(*model, s, tokens, true); }) /
                   double(tokens));
    std::printf("| %s | %.3f | %.3f | %.3f | %.3f | %.2f |\n", family_name(f), ms[0], ms[1], ms[2],
                ms[3], ms[3] / ms[0]);
  }
  return 0;
}
