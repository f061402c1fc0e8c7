// Training speed against PyTorch, measured side by side on this machine.
//
// One step is forward + backward + AdamW for GPT, BERT or T5 configured like
// the PyTorch peer (../shared/bench/torch_ref.py): pre-LN LayerNorm blocks,
// erf GELU FFN of 4d, learned positions, biases, tied LM head, no dropout.
// GPT: next-token loss; BERT: 2-class loss on [CLS]; T5: teacher-forced loss.
//
// The table (no --model): every configuration and model, each measured in a
// child process (so that its peak RSS is its own): attnlab with 1 and 2
// threads, PyTorch with its fastest split of the 2 cores (--best 2), idle and
// then with 1 and 2 competing busy processes that this program starts. Prints
// Markdown tables with the ratios, MFU and peak RSS.
//   bench_train [--configs A,B,C,D[,E,F]] [--models gpt,bert,t5] [--loads 0,1,2]
//               [--repeats R] [--steps N] [--peer torch_ref.py] [--no-torch]
//               [--keep-coretype]
//
// One measurement (what the table runs in its children):
//   bench_train --model gpt|bert|t5 --config A|B|C|D|E|F [--steps N] [--threads N]
//               [--precision float32|bf16]
//   or the shape itself: --vocab V --d D --layers L --heads H --seq T --batch B
// Prints "model config: X ms/step (median of N, ...) flops=F" where F is the
// training FLOPs of one step (3x the forward pass's matrix products).
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "autograd/accounting.h"
#include "autograd/kernels/gemm.h"
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
                                                    {"D", {512, 384, 6, 6, 256, 8}},
                                                    // long sequences
                                                    {"E", {256, 256, 4, 4, 1024, 4}},
                                                    {"F", {256, 256, 2, 4, 2048, 2}}};

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

// ---- one measurement -------------------------------------------------------------

int measure(const std::string& model, const std::string& config, BenchShape shape, int steps) {
  if (steps < 1) steps = 1;
  auto m = make_model(peer_config(family_from_name(model), shape));
  m->train(true);
  OptimizerConfig oc;
  oc.kind = OptimizerKind::AdamW;
  Optimizer opt(m->named_parameters(), oc);
  const IntTensor x = random_ids(shape.batch, shape.seq, shape.vocab, 1);
  const IntTensor y = random_ids(shape.batch, shape.seq, shape.vocab, 2);
  std::vector<double> ms;
  double forward_flops = 0;
  for (int i = 0; i < steps + 2; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    opt.zero_grad();
    FlopCount count;
    Tensor loss = loss_of(*m, x, y);
    forward_flops = count.flops();
    loss.backward();
    opt.step(3e-4);
    const double t =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (i >= 2) ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  std::printf("%s %s: %.1f ms/step (median of %d, %d threads, %ld parameters) flops=%.6g\n",
              model.c_str(), config.empty() ? "custom" : config.c_str(), ms[ms.size() / 2], steps,
              thread_count(), long(m->parameter_count()), 3 * forward_flops);
  return 0;
}

// ---- the table: child processes, load, peers ------------------------------------------

struct RunResult {
  bool ok = false;
  double ms = 0, flops = 0, rss_mb = 0;
  std::string line;  // what the child printed last
};

// Runs argv with extra environment entries; returns its output's last line,
// the "X ms/step" in it, its "flops=" and its peak RSS.
RunResult run_child(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return {};
  }
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    for (const std::string& e : env) {
      if (e[0] == '-')
        unsetenv(e.c_str() + 1);  // "-NAME": leave NAME out of the child's environment
      else
        putenv(const_cast<char*>(e.c_str()));
    }
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buffer[4096];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;) out.append(buffer, size_t(n));
  close(fds[0]);
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  RunResult r;
  std::istringstream lines(out);
  for (std::string l; std::getline(lines, l);)
    if (!l.empty()) r.line = l;
  const size_t at = r.line.find(" ms/step");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || at == std::string::npos) return r;
  const size_t from = r.line.rfind(' ', at - 1);
  r.ms = std::atof(r.line.substr(from + 1, at - from - 1).c_str());
  const size_t f = r.line.find("flops=");
  if (f != std::string::npos) r.flops = std::atof(r.line.c_str() + f + 6);
  r.rss_mb = double(usage.ru_maxrss) / 1024.0;
  r.ok = true;
  return r;
}

// `count` single-threaded busy processes, stopped by the destructor.
class BusyLoad {
 public:
  explicit BusyLoad(int count) {
    const pid_t parent = getpid();
    for (int i = 0; i < count; ++i) {
      const pid_t pid = fork();
      if (pid < 0) {
        std::perror("bench_train: fork (busy load)");
        break;
      }
      if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the benchmark
        if (getppid() != parent) _exit(0);
        volatile uint64_t x = 0;
        for (;;) x = x + 1;
      }
      pids_.push_back(pid);
    }
  }
  ~BusyLoad() {
    for (pid_t pid : pids_) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }

 private:
  std::vector<pid_t> pids_;
};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// The best GFLOP/s of our GEMM with 2 threads on config D's linear-layer
// shapes (2048 rows; d=384, 4d=1536), forward and both gradients: the peak
// against which MFU is reported.
double gemm_peak_gflops() {
  struct G {
    bool ta, tb;
    int64_t m, n, k;
  };
  const G shapes[] = {{false, true, 2048, 1536, 384},
                      {false, true, 2048, 384, 1536},
                      {false, false, 2048, 384, 1536},
                      {true, false, 1536, 384, 2048},
                      {false, true, 2048, 1152, 384}};
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1, 1);
  double best = 0;
  ThreadCountScope threads(2);
  for (const G& g : shapes) {
    std::vector<float> a(size_t(g.m * g.k)), b(size_t(g.k * g.n)), c(size_t(g.m * g.n));
    for (float& v : a) v = dist(rng);
    for (float& v : b) v = dist(rng);
    const int64_t lda = g.ta ? g.m : g.k, ldb = g.tb ? g.k : g.n;
    std::vector<double> times;
    for (int rep = 0; rep < 12; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      gemm<float>(g.ta, g.tb, g.m, g.n, g.k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(),
                  g.n);
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(times.begin(), times.end());
    best = std::max(best, 2.0 * double(g.m * g.n * g.k) / times[times.size() / 2] / 1e9);
  }
  return best;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string number(double v, const char* format = "%.1f") {
  if (v <= 0) return "-";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, v);
  return buffer;
}

struct TableOptions {
  std::vector<std::string> configs{"A", "B", "C", "D"}, models{"gpt", "bert", "t5"};
  std::vector<int> loads{0, 1, 2};
  int repeats = 1, steps = 0;
  std::string peer = "../shared/bench/torch_ref.py";
  bool torch = true;
  bool keep_coretype = false;
};

int steps_for(const std::string& config, int steps) {
  if (steps > 0) return steps;
  return config == "E" || config == "F" ? 3 : config == "D" ? 5 : config == "C" ? 8 : 20;
}

// One line of the tables: a (config, model, load) measured.
struct Row {
  std::string config, model;
  int load;
  double ours1 = 0, ours2 = 0, theirs = 0, flops = 0, rss_ours = 0, rss_theirs = 0;
  std::string split;
};

// Whether the PyTorch peer can run: 1 yes, 0 no (attnlab is measured
// alone), -1 it would run unfairly (not on OpenBLAS) and the bench stops.
int peer_status(const TableOptions& o) {
  if (!o.torch) return 0;
  if (access("/usr/bin/python3", X_OK) != 0 || access(o.peer.c_str(), R_OK) != 0 ||
      std::system("/usr/bin/python3 -c 'import torch' 2>/dev/null") != 0) {
    std::fprintf(stderr,
                 "bench_train: PyTorch or %s is missing (apt-get install python3-torch); "
                 "measuring attnlab alone\n",
                 o.peer.c_str());
    return 0;
  }
  if (std::system("ls -l /etc/alternatives/libblas.so.3* 2>/dev/null | grep -q openblas") != 0) {
    std::fprintf(stderr,
                 "bench_train: libblas.so.3 is not OpenBLAS, so PyTorch would multiply with the "
                 "reference BLAS and the comparison would flatter us; install libopenblas-dev "
                 "(ATTNLAB_BENCH=1 bash .ci/setup)\n");
    return -1;
  }
  return 1;
}

// The Markdown tables of the measured rows: one per load.
void print_tables(const std::vector<Row>& rows, const TableOptions& o, double peak) {
  for (int load : o.loads) {
    if (load == 0)
      std::printf(
          "## Idle machine\n\n"
          "| config | model | attnlab 1 thread ms | attnlab 2 threads ms | 2 threads / 1 | "
          "PyTorch best split ms | split | PyTorch / attnlab | attnlab RSS MB | PyTorch RSS MB | "
          "RSS ratio | GFLOP/step | MFU |\n"
          "| --- | --- | --: | --: | --: | --: | --- | --: | --: | --: | --: | --: | --: |\n");
    else
      std::printf(
          "\n## %d competing busy process%s\n\n"
          "| config | model | attnlab 1 thread ms | attnlab 2 threads ms | 2 threads / 1 | "
          "PyTorch best split ms | split | PyTorch / attnlab (2 threads) |\n"
          "| --- | --- | --: | --: | --: | --: | --- | --: |\n",
          load, load == 1 ? "" : "es");
    for (const Row& r : rows) {
      if (r.load != load) continue;
      const std::string speedup = number(r.ours1 / r.ours2, "%.2fx");
      const std::string factor = r.theirs > 0 ? number(r.theirs / r.ours2, "%.2fx") : "-";
      if (load == 0) {
        const double gflops = r.flops / 1e9;
        const double mfu = gflops / (r.ours2 / 1e3) / peak;
        std::printf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                    r.config.c_str(), r.model.c_str(), number(r.ours1).c_str(),
                    number(r.ours2).c_str(), speedup.c_str(), number(r.theirs).c_str(),
                    r.split.empty() ? "-" : r.split.c_str(), factor.c_str(),
                    number(r.rss_ours, "%.0f").c_str(), number(r.rss_theirs, "%.0f").c_str(),
                    r.rss_theirs > 0 ? number(r.rss_ours / r.rss_theirs, "%.2f").c_str() : "-",
                    number(gflops, "%.2f").c_str(), number(100 * mfu, "%.0f%%").c_str());
      } else {
        std::printf("| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.config.c_str(),
                    r.model.c_str(), number(r.ours1).c_str(), number(r.ours2).c_str(),
                    speedup.c_str(), number(r.theirs).c_str(),
                    r.split.empty() ? "-" : r.split.c_str(), factor.c_str());
      }
    }
  }
  std::printf(
      "\nms per step: median of each run's steps%s. Split: PyTorch threads + OpenBLAS threads. "
      "MFU: training FLOPs per second over the GEMM peak above.\n",
      o.repeats > 1 ? ", then the median over repeats" : "");
}

int run_table(const std::string& self, const TableOptions& o) {
  const int peer = peer_status(o);
  if (peer < 0) return 2;
  const bool torch = peer > 0;
  // OpenBLAS picks its kernels for this CPU unless OPENBLAS_CORETYPE says
  // otherwise; a machine that sets it (this one set Haswell, AVX2, on an
  // AVX-512 CPU) would slow the peer down. The peer runs without it unless
  // --keep-coretype.
  std::vector<std::string> peer_env;
  if (!o.keep_coretype && std::getenv("OPENBLAS_CORETYPE")) {
    std::printf("The peer runs without OPENBLAS_CORETYPE=%s (OpenBLAS chooses its own kernels).\n",
                std::getenv("OPENBLAS_CORETYPE"));
    peer_env.push_back("-OPENBLAS_CORETYPE");
  }
  const double peak = gemm_peak_gflops();
  std::printf("GEMM peak (attnlab, 2 threads, config D's linear shapes): %.0f GFLOP/s\n\n", peak);
  std::vector<Row> rows;
  for (int load : o.loads) {
    for (const std::string& c : o.configs) {
      const BenchShape& s = kConfigs.at(c);
      // Under load a short run's median depends on where the scheduler's time
      // slices fall: 4x the steps unless --steps says otherwise.
      const int steps = steps_for(c, o.steps) * (load > 0 && o.steps == 0 ? 4 : 1);
      for (const std::string& m : o.models) {
        Row row{c, m, load};
        std::vector<double> ours1, ours2, theirs;
        for (int rep = 0; rep < o.repeats; ++rep) {
          BusyLoad busy(load);
          for (int threads : {2, 1}) {
            RunResult r = run_child({self, "--model", m, "--config", c, "--steps",
                                     std::to_string(steps), "--threads", std::to_string(threads)},
                                    {});
            if (!r.ok) {
              std::fprintf(stderr, "bench_train: %s %s failed: %s\n", m.c_str(), c.c_str(),
                           r.line.c_str());
              return 1;
            }
            (threads == 2 ? ours2 : ours1).push_back(r.ms);
            row.flops = r.flops;
            if (threads == 2) row.rss_ours = std::max(row.rss_ours, r.rss_mb);
          }
          if (!torch) continue;
          const std::vector<std::string> shape_args = {"--model",  m,
                                                       "--vocab",  std::to_string(s.vocab),
                                                       "--d",      std::to_string(s.d),
                                                       "--layers", std::to_string(s.layers),
                                                       "--heads",  std::to_string(s.heads),
                                                       "--seq",    std::to_string(s.seq),
                                                       "--batch",  std::to_string(s.batch)};
          std::vector<std::string> argv = {"/usr/bin/python3", o.peer};
          argv.insert(argv.end(), shape_args.begin(), shape_args.end());
          argv.insert(argv.end(), {"--steps", std::to_string(steps), "--best", "2"});
          RunResult r = run_child(argv, peer_env);
          if (!r.ok) {
            std::fprintf(stderr, "bench_train: the PyTorch peer failed on %s %s: %s\n", m.c_str(),
                         c.c_str(), r.line.c_str());
            return 1;
          }
          theirs.push_back(r.ms);
          // The split it chose: "threads=T: ... blas_threads=B"
          const size_t t = r.line.find("threads="), b = r.line.find("blas_threads=");
          if (t != std::string::npos && b != std::string::npos) {
            const std::string th = r.line.substr(t + 8, r.line.find(':', t) - t - 8);
            const std::string bl = r.line.substr(b + 13);
            row.split = th + "+" + bl;
            if (load == 0 && rep == 0) {  // its peak RSS, in a run of its own with that split
              std::vector<std::string> rss_argv = {"/usr/bin/python3", o.peer};
              rss_argv.insert(rss_argv.end(), shape_args.begin(), shape_args.end());
              rss_argv.insert(rss_argv.end(), {"--steps", "3", "--threads", th});
              std::vector<std::string> env = peer_env;
              env.insert(env.end(), {"OPENBLAS_NUM_THREADS=" + bl, "OMP_NUM_THREADS=" + th});
              RunResult rss = run_child(rss_argv, env);
              row.rss_theirs = rss.rss_mb;
            }
          }
        }
        row.ours1 = median(ours1);
        row.ours2 = median(ours2);
        row.theirs = median(theirs);
        rows.push_back(row);
        std::fprintf(stderr, "  load %d %s %s: attnlab %.1f (1t %.1f) ms, PyTorch %s ms\n", load,
                     c.c_str(), m.c_str(), row.ours2, row.ours1, number(row.theirs).c_str());
      }
    }
  }
  print_tables(rows, o, peak);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model, config;
  BenchShape shape = kConfigs.at("B");
  int steps = 10;
  TableOptions table;
  bool steps_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (key == "--no-torch") {
      table.torch = false;
      continue;
    }
    if (key == "--keep-coretype") {
      table.keep_coretype = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "bench_train: %s needs a value\n", key.c_str());
      return 2;
    }
    const std::string value = argv[++i];
    const int64_t n = std::atoll(value.c_str());
    if (key == "--model")
      model = value;
    else if (key == "--config") {
      if (!kConfigs.count(value)) {
        std::fprintf(stderr, "bench_train: --config %s: expected one of A, B, C, D, E, F\n",
                     value.c_str());
        return 2;
      }
      config = value;
      shape = kConfigs.at(value);
    } else if (key == "--steps") {
      steps = int(n);
      steps_given = true;
    } else if (key == "--threads")
      set_thread_count(int(n));
    else if (key == "--precision") {
      if (value != "float32" && value != "bf16") {
        std::fprintf(stderr, "bench_train: --precision %s: expected float32 or bf16\n",
                     value.c_str());
        return 2;
      }
      try {
        set_matmul_precision(value == "bf16" ? MatmulPrecision::BFloat16
                                             : MatmulPrecision::Float32);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_train: --precision %s: %s\n", value.c_str(), e.what());
        return 2;
      }
    } else if (key == "--vocab")
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
    else if (key == "--configs")
      table.configs = split_list(value);
    else if (key == "--models")
      table.models = split_list(value);
    else if (key == "--loads") {
      table.loads.clear();
      for (const std::string& l : split_list(value)) table.loads.push_back(std::atoi(l.c_str()));
    } else if (key == "--repeats")
      table.repeats = std::max(1, int(n));
    else if (key == "--peer")
      table.peer = value;
    else {
      std::fprintf(stderr, "bench_train: unknown option %s\n", key.c_str());
      return 2;
    }
  }
  if (!model.empty()) return measure(model, config, shape, steps);
  for (const std::string& c : table.configs)
    if (!kConfigs.count(c)) {
      std::fprintf(stderr, "bench_train: --configs: %s is not one of A, B, C, D\n", c.c_str());
      return 2;
    }
  for (const std::string& m : table.models)
    if (m != "gpt" && m != "bert" && m != "t5") {
      std::fprintf(stderr, "bench_train: --models: %s is not one of gpt, bert, t5\n", m.c_str());
      return 2;
    }
  if (steps_given) table.steps = steps;
  char self[4096];
  const ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) return 1;
  self[len] = 0;
  return run_table(self, table);
}
