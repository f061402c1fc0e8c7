// GFLOP/s of attnlab::gemm<float> against OpenBLAS cblas_sgemm, both measured in the same run on
// the same buffers and thread counts. Prints a markdown table.
//   bench_gemm [--quick] [--threads 1,2] [--reps N]
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

#include "autograd/gemm.h"

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

// Seconds per call of f and g: best of `reps` timed runs each, after a warmup. Each timed run
// repeats the call for at least ~20 ms so small shapes do not measure timer noise. The two are
// timed in alternating blocks (so load from other processes on a shared machine hits both alike)
// with a pause between blocks: both libraries' idle worker threads busy-wait for a while after a
// call, and would otherwise steal the cores from the other library's threads.
template <typename F, typename G>
std::pair<double, double> best_seconds(F&& f, G&& g, int reps) {
  const auto quiesce = [] { std::this_thread::sleep_for(std::chrono::milliseconds(150)); };
  const auto calls_for = [](auto& fn) {
    fn();
    const auto t0 = Clock::now();
    fn();
    const double once = std::chrono::duration<double>(Clock::now() - t0).count();
    return std::max(1, static_cast<int>(0.02 / std::max(once, 1e-9)));
  };
  const auto best_of = [&](auto& fn, int runs) {
    const int calls = calls_for(fn);
    double best = 1e30;
    for (int r = 0; r < runs; ++r) {
      const auto start = Clock::now();
      for (int i = 0; i < calls; ++i) fn();
      best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count() / calls);
    }
    quiesce();
    return best;
  };
  double best_f = 1e30, best_g = 1e30;
  for (int block = 0; block < 2; ++block) {
    best_f = std::min(best_f, best_of(f, (reps + 1) / 2));
    best_g = std::min(best_g, best_of(g, (reps + 1) / 2));
  }
  return {best_f, best_g};
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
  int reps = 5;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick")) {
      quick = true;
    } else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
      threads = parse_threads(argv[++i]);
    } else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--threads 1,2] [--reps N]\n", argv[0]);
      return 2;
    }
  }
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  std::printf("OpenBLAS: %s (core %s, OPENBLAS_CORETYPE=%s)\n\n", openblas_get_config(),
              openblas_get_corename(), coretype ? coretype : "unset");
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
      const auto [ours, theirs] = best_seconds(ours_fn, openblas_fn, reps);
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
