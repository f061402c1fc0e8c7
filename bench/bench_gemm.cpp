// GFLOP/s of attnlab::gemm<float> against OpenBLAS cblas_sgemm, both measured in the same run on
// the same buffers and thread counts. Prints a markdown table.
//   bench_gemm [--quick] [--threads 1,2] [--reps N] [--best]
// Reports the median time per call (--best: the fastest call) over at least N calls (default 20).
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "autograd/kernels/gemm.h"

extern "C" void openblas_set_num_threads(int);
extern "C" char* openblas_get_config(void);
extern "C" char* openblas_get_corename(void);

namespace {

struct Shape {
  int64_t M, N, K;
  bool ta, tb;
  const char* note;
};

std::vector<Shape> shape_set(bool quick) {
  std::vector<Shape> shapes;
  const std::vector<int64_t> squares =
      quick ? std::vector<int64_t>{256, 1024} : std::vector<int64_t>{256, 512, 1024, 2048};
  for (int64_t s : squares) shapes.push_back({s, s, s, false, false, "square"});
  // Linear layers on B*T = 2048 tokens: (N, K) = (3d, d) qkv, (d, d) proj, (4d, d) mlp up,
  // (d, 4d) mlp down, in every transpose case (forward NT, dX NN, and TN/TT layouts).
  const std::vector<int64_t> widths =
      quick ? std::vector<int64_t>{128, 384} : std::vector<int64_t>{128, 256, 384};
  for (int64_t d : widths) {
    const int64_t nk[][2] = {{3 * d, d}, {d, d}, {4 * d, d}, {d, 4 * d}};
    for (const auto& p : nk)
      for (int t = 0; t < 4; ++t)
        shapes.push_back({2048, p[0], p[1], (t & 2) != 0, (t & 1) != 0, "train"});
  }
  // Head-sized widths.
  for (int t = 0; t < 4; ++t)
    shapes.push_back({2048, 64, 512, (t & 2) != 0, (t & 1) != 0, "train"});
  for (int t = 0; t < 4; ++t)
    shapes.push_back({2048, 512, 64, (t & 2) != 0, (t & 1) != 0, "train"});
  // Weight gradients as linear backward issues them: dW(out, in) = dY^T @ X over K = 2048 tokens.
  for (int64_t d : widths) {
    shapes.push_back({3 * d, d, 2048, true, false, "dW"});
    shapes.push_back({d, 4 * d, 2048, true, false, "dW"});
    shapes.push_back({4 * d, d, 2048, true, false, "dW"});
  }
  return shapes;
}

using Clock = std::chrono::steady_clock;

// Seconds per call of f and g, each timed call by call: the median (or the best) over at least
// `reps` calls and ~0.2 s per function, in 4 blocks. Per-call times let the median ignore the calls
// that other processes on a shared machine stalled. The two are timed in alternating blocks, so
// slower phases of that load hit both alike, with a pause after each block: both libraries' idle
// worker threads busy-wait for a while after a call and would otherwise steal the cores from the
// other's threads.
template <typename F, typename G>
std::pair<double, double> seconds_per_call(F&& f, G&& g, int reps, bool best) {
  constexpr int kBlocks = 4;
  const auto time_calls = [](auto& fn, int calls, std::vector<double>& out) {
    for (int i = 0; i < calls; ++i) {
      const auto start = Clock::now();
      fn();
      out.push_back(std::chrono::duration<double>(Clock::now() - start).count());
    }
  };
  const auto calls_per_block = [&](auto& fn) {
    std::vector<double> warm;
    time_calls(fn, 2, warm);
    const int calls = static_cast<int>(0.05 / std::max(warm[1], 1e-7));
    return std::clamp(calls, std::max(1, reps / kBlocks), 500);
  };
  const int nf = calls_per_block(f), ng = calls_per_block(g);
  std::vector<double> tf, tg;
  for (int block = 0; block < kBlocks; ++block) {
    time_calls(f, nf, tf);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // OpenMP spins ~ms
    time_calls(g, ng, tg);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));  // OpenBLAS polls ~0.1 s
  }
  const auto stat = [best](std::vector<double>& t) {
    std::sort(t.begin(), t.end());
    return best ? t.front() : t[t.size() / 2];
  };
  return {stat(tf), stat(tg)};
}

std::vector<int> parse_threads(const char* s) {
  std::vector<int> out;
  std::string str(s);
  size_t pos = 0;
  while (pos <= str.size()) {
    const size_t comma = str.find(',', pos);
    const std::string tok =
        str.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (!tok.empty()) out.push_back(std::atoi(tok.c_str()));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::vector<int> threads = {1, 2};
  int reps = 20;
  bool best = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick")) {
      quick = true;
    } else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
      threads = parse_threads(argv[++i]);
    } else if (!std::strcmp(argv[i], "--best")) {
      best = true;
    } else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--threads 1,2] [--reps N] [--best]\n", argv[0]);
      return 2;
    }
  }
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  std::printf("OpenBLAS: %s (core %s, OPENBLAS_CORETYPE=%s); %s time per call\n\n",
              openblas_get_config(), openblas_get_corename(), coretype ? coretype : "unset",
              best ? "best" : "median");
  std::printf("| shape (MxNxK) | op | threads | ours GFLOP/s | OpenBLAS GFLOP/s | ratio |\n");
  std::printf("|---|---|---|---|---|---|\n");

  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<double> worst(threads.size(), 1e30);
  for (size_t ti = 0; ti < threads.size(); ++ti) {
    const int nt = threads[ti];
    omp_set_num_threads(nt);
    openblas_set_num_threads(nt);
    for (const Shape& s : shape_set(quick)) {
      std::vector<float> A(s.M * s.K), B(s.K * s.N), C(s.M * s.N), C_ref(s.M * s.N);
      for (auto& x : A) x = dist(rng);
      for (auto& x : B) x = dist(rng);
      const int64_t lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N, ldc = s.N;
      const double flops = 2.0 * s.M * s.N * s.K;
      const auto ours_fn = [&] {
        attnlab::gemm<float>(s.ta, s.tb, s.M, s.N, s.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f,
                             C.data(), ldc);
      };
      const auto openblas_fn = [&] {
        cblas_sgemm(CblasRowMajor, s.ta ? CblasTrans : CblasNoTrans,
                    s.tb ? CblasTrans : CblasNoTrans, s.M, s.N, s.K, 1.0f, A.data(), lda, B.data(),
                    ldb, 0.0f, C_ref.data(), ldc);
      };
      const auto [ours, theirs] = seconds_per_call(ours_fn, openblas_fn, reps, best);
      // Guard against benchmarking a wrong kernel.
      double max_err = 0;
      for (size_t i = 0; i < C.size(); ++i)
        max_err = std::max(max_err, double(std::abs(C[i] - C_ref[i])));
      if (max_err > 1e-3 * std::sqrt(double(s.K))) {
        std::fprintf(stderr, "mismatch vs OpenBLAS: max |diff| %g\n", max_err);
        return 1;
      }
      const double ratio = theirs / ours;
      worst[ti] = std::min(worst[ti], ratio);
      const char* op = s.ta ? (s.tb ? "TT" : "TN") : (s.tb ? "NT" : "NN");
      std::printf("| %lldx%lldx%lld%s | %s | %d | %.1f | %.1f | %.2f |\n", (long long)s.M,
                  (long long)s.N, (long long)s.K, std::strcmp(s.note, "dW") ? "" : " (dW)", op, nt,
                  flops / ours * 1e-9, flops / theirs * 1e-9, ratio);
      std::fflush(stdout);
    }
  }
  std::printf("\n");
  for (size_t ti = 0; ti < threads.size(); ++ti)
    std::printf("worst ratio at %d thread(s): %.2f\n", threads[ti], worst[ti]);
  return 0;
}
