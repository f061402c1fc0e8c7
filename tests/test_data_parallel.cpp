// Data-parallel training under mpirun: N ranks must compute what one process
// computes with the whole batch, write what one process writes, and resume
// each other's checkpoints. Built only with MPI (CI installs Open MPI).
#ifdef ATTNLAB_HAVE_MPI

#include <algorithm>
#include <cmath>
#include <sstream>

#include "cli_process.h"
#include "models/model.h"
#include "train/checkpoint.h"

using namespace cli_test;
using namespace attnlab;
using Catch::Matchers::Contains;

namespace {

// The environment of every mpirun in these tests. mpirun refuses to start as
// root unless told twice; the tests (often root in containers) say so here,
// for their own runs only. In the sanitizer build the ranks run without
// LeakSanitizer (and with everything else): Open MPI's progress thread keeps
// blocks from plugins it has unloaded by exit, which LeakSanitizer cannot
// tell from ours or suppress by name.
const std::string kMpiEnvironment =
    "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 "
    "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0\"";

// `timeout` turns a hang into a failure (exit 124) instead of a stuck suite.
Run mpirun(int ranks, const std::string& args) {
  return run_shell(fmt::format("{} timeout 120 mpirun --oversubscribe -np {} {} {}",
                               kMpiEnvironment, ranks, ATTNLAB_BINARY, args));
}

// Small and quick; no dropout, whose masks depend on how rows are split.
const std::string kSmall =
    "--d-model 32 --heads 2 --d-ff 64 --layers 1 --decoder-layers 1 --train-size 300 "
    "--valid-size 40 --eval-examples 40 --dropout 0 --save-every 0 --log-every 5 "
    "--eval-every 10";

std::vector<std::pair<std::string, std::vector<float>>> parameters(const fs::path& checkpoint) {
  const CheckpointInfo info = read_checkpoint_info(checkpoint.string());
  auto model = make_model(info.model);
  load_parameters(checkpoint.string(), *model);
  std::vector<std::pair<std::string, std::vector<float>>> out;
  for (const auto& [name, p] : model->named_parameters()) out.emplace_back(name, p.to_floats());
  return out;
}

// The largest difference in any parameter tensor, relative to that tensor's
// largest magnitude. Key-projection biases are left out: softmax ignores a
// shift that all keys share, so their exact gradient is zero, and Adam turns
// the rounding noise they get into steps of up to lr whichever way it falls.
// They are checked to stay that small instead.
double worst_relative_difference(const fs::path& a, const fs::path& b) {
  const auto pa = parameters(a), pb = parameters(b);
  REQUIRE(pa.size() == pb.size());
  double worst = 0;
  for (size_t i = 0; i < pa.size(); ++i) {
    REQUIRE(pa[i].first == pb[i].first);
    REQUIRE(pa[i].second.size() == pb[i].second.size());
    double scale = 0, diff = 0;
    for (size_t k = 0; k < pa[i].second.size(); ++k) {
      scale = std::max(scale, double(std::fabs(pa[i].second[k])));
      diff = std::max(diff, double(std::fabs(pa[i].second[k] - pb[i].second[k])));
    }
    if (pa[i].first.ends_with("k_proj/bias")) {
      CHECK(scale < 1e-3);  // 20 steps of at most lr = 1e-4 from zero
      continue;
    }
    worst = std::max(worst, diff / scale);
  }
  return worst;
}

// The numeric fields of metrics.jsonl lines, without timings, keyed "step/split/field".
std::map<std::string, double> logged_metrics(const fs::path& run_dir) {
  std::map<std::string, double> out;
  for (const attnlab::Json& line : json_lines(read_text(run_dir / "metrics.jsonl"))) {
    if (!line.contains("split")) continue;  // a resume marker
    const std::string where =
        fmt::format("{}/{}/", line.at("step").get<int64_t>(), line.at("split").get<std::string>());
    for (const char* key : {"loss", "grad_norm", "accuracy", "macro_f1", "token_accuracy",
                            "exact_match", "examples", "lr"})
      if (line.contains(key)) out[where + key] = number_of(line.at(key));
  }
  return out;
}

}  // namespace

TEST_CASE("data parallel: 2 ranks compute the update of 1 process with the whole batch") {
  const fs::path dir = fresh_dir("dp_equal");
  const std::string text = (dir / "text.txt").string();
  {
    std::ofstream out(text);
    for (int i = 0; i < 40; ++i) out << "the quick brown fox " << i << " jumps over the dog\n";
  }
  const std::string lm = " --task-kind lm --block-size 16 --train-file " + text;
  // Uneven shards (15 and 9 rows over 2 ranks), three layouts, accumulation,
  // and BERT's and T5's text objectives, whose masks and spans each rank
  // must draw as one process does; a subword tokenizer each rank trains alike.
  for (const std::string& run_args :
       {std::string("--model t5 --task reverse --batch-size 15"),
        std::string("--model bert --task brackets --batch-size 9"),
        std::string("--model gpt --task sort --batch-size 8 --accumulation 2"),
        "--model bert --batch-size 9" + lm, "--model t5 --batch-size 7 --accumulation 2" + lm,
        "--model gpt --set prefix_lm=true --batch-size 9" + lm,
        "--model gpt --tokenizer bpe --vocab-size 60 --batch-size 9" + lm,
        std::string("--model gpt --set prefix_lm=true --task reverse --batch-size 9")}) {
    INFO(run_args);
    const std::string args = fmt::format("train {} {} --steps 20", run_args, kSmall);
    fs::remove_all(dir / "one");
    fs::remove_all(dir / "two");
    const Run one =
        run(fmt::format("{} --threads 1 --quiet --out {}", args, (dir / "one").string()));
    REQUIRE(one.exit_code == 0);
    const Run two = mpirun(2, fmt::format("{} --out {}", args, (dir / "two").string()));
    INFO(two.output);
    REQUIRE(two.exit_code == 0);
    // Only rank 0 speaks, and by default each rank takes its share of the cores.
    CHECK(std::count(two.output.begin(), two.output.end(), '\n') > 3);
    size_t headers = 0;
    for (size_t at = two.output.find("model: d_model"); at != std::string::npos;
         at = two.output.find("model: d_model", at + 1))
      ++headers;
    CHECK(headers == 1);
    CHECK_THAT(two.output, Contains("| 1 threads"));
    // Sums of the same products in another order: equal to float rounding, not bit for bit.
    const double worst =
        worst_relative_difference(dir / "one" / "checkpoint.h5", dir / "two" / "checkpoint.h5");
    INFO("worst relative parameter difference " << worst);
    CHECK(worst < 1e-6);
    const auto m1 = logged_metrics(dir / "one"), m2 = logged_metrics(dir / "two");
    REQUIRE(m1.size() == m2.size());
    REQUIRE(m1.size() >= 10);
    for (const auto& [key, value] : m1) {
      INFO(key << ": 1 process " << value << ", 2 ranks " << m2.at(key));
      CHECK(std::fabs(value - m2.at(key)) <= 1e-5 * std::max(1.0, std::fabs(value)));
    }
  }
  fs::remove_all(dir);
}

TEST_CASE("data parallel: two runs on 2 ranks are bit-identical, dropout included") {
  const fs::path dir = fresh_dir("dp_repeat");
  // Dropout on (the recipe's), and the masked-LM loss: every stream is seeded.
  const std::string args =
      "train --model bert --task brackets --batch-size 9 --d-model 32 --heads 2 --d-ff 64 "
      "--layers 1 --dropout 0.1 --train-size 300 --valid-size 40 --eval-examples 40 --save-every 0 "
      "--steps 10 "
      "--quiet --out ";
  REQUIRE(mpirun(2, args + (dir / "a").string()).exit_code == 0);
  REQUIRE(mpirun(2, args + (dir / "b").string()).exit_code == 0);
  const auto a = parameters(dir / "a" / "checkpoint.h5"),
             b = parameters(dir / "b" / "checkpoint.h5");
  CHECK(a == b);
  fs::remove_all(dir);
}

TEST_CASE("data parallel: a checkpoint from 2 ranks resumes in 1 process, and the reverse") {
  const fs::path dir = fresh_dir("dp_resume");
  const std::string args =
      fmt::format("train --model t5 --task reverse --batch-size 15 {} --steps 20 --quiet", kSmall);
  const auto out = [&](const char* name) { return (dir / name).string(); };
  REQUIRE(run(fmt::format("{} --threads 1 --out {}", args, out("whole"))).exit_code == 0);
  // 2 ranks stop at step 10; 1 process finishes.
  REQUIRE(mpirun(2, fmt::format("{} --stop-at 10 --out {}", args, out("two_then_one"))).exit_code ==
          0);
  REQUIRE(run(fmt::format("train --resume --out {} --threads 1 --quiet", out("two_then_one")))
              .exit_code == 0);
  // 1 process stops at step 10; 2 ranks finish.
  REQUIRE(run(fmt::format("{} --threads 1 --stop-at 10 --out {}", args, out("one_then_two")))
              .exit_code == 0);
  const Run resumed =
      mpirun(2, fmt::format("train --resume --out {} --quiet", out("one_then_two")));
  INFO(resumed.output);
  REQUIRE(resumed.exit_code == 0);
  for (const char* name : {"two_then_one", "one_then_two"}) {
    const double worst =
        worst_relative_difference(dir / "whole" / "checkpoint.h5", dir / name / "checkpoint.h5");
    INFO(name << ": worst relative parameter difference " << worst);
    CHECK(worst < 1e-6);
  }
  fs::remove_all(dir);
}

TEST_CASE("data parallel: a rank that fails ends every rank, and the run keeps its checkpoint") {
  const fs::path dir = fresh_dir("dp_fail");
  const std::string out = (dir / "run").string();
  const std::string args = fmt::format(
      "train --model t5 --task reverse --batch-size 8 {} --quiet --out {}", kSmall, out);
  REQUIRE(run(args + " --steps 5 --threads 1").exit_code == 0);
  const std::string checkpoint = (dir / "run" / "checkpoint.h5").string();
  const int64_t step = read_checkpoint_info(checkpoint).state.step;
  // Rank 0 refuses to start over a trained model; rank 1 would wait for it forever.
  const Run r = mpirun(2, args + " --steps 10");
  INFO(r.output);
  CHECK(r.exit_code != 0);
  CHECK(r.exit_code != 124);  // ended, not timed out
  CHECK_THAT(r.output, Contains("train (rank 0 of 2)") && Contains("--overwrite"));
  CHECK(read_checkpoint_info(checkpoint).state.step == step);
  fs::remove_all(dir);
}

TEST_CASE("data parallel: Ctrl-C to mpirun stops every rank after one save, --resume continues") {
  const fs::path dir = fresh_dir("dp_signal");
  const fs::path out = dir / "run";
  const std::string cmd = fmt::format(
      "{} exec mpirun --oversubscribe -np 2 {} train --model t5 --task reverse --batch-size 8 {} "
      "--steps 1000000 --quiet --out {} > {} 2>&1",
      kMpiEnvironment, ATTNLAB_BINARY, kSmall, out.string(), (dir / "log").string());
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    ::_exit(127);
  }
  REQUIRE(wait_until([&] { return training_logged(out); }));
  ::kill(child, SIGINT);  // mpirun passes it on to every rank as SIGTERM
  int status = 0;
  const bool ended = wait_until([&] { return ::waitpid(child, &status, WNOHANG) == child; }, 60);
  if (!ended) ::kill(child, SIGKILL), ::waitpid(child, &status, 0);
  REQUIRE(ended);
  const std::string log = read_text(dir / "log");
  INFO(log);
  // One message, from rank 0, and one checkpoint that loads.
  CHECK(log.find("stopped by SIGTERM") != std::string::npos);
  CHECK(log.find("stopped by SIGTERM") == log.rfind("stopped by SIGTERM"));
  const int64_t step = read_checkpoint_info((out / "checkpoint.h5").string()).state.step;
  CHECK(step > 0);
  const Run resumed = run(fmt::format("train --resume --out {} --steps {} --threads 1 --quiet",
                                      out.string(), step + 3));
  CHECK(resumed.exit_code == 0);
  CHECK(read_checkpoint_info((out / "checkpoint.h5").string()).state.step == step + 3);
  fs::remove_all(dir);
}

TEST_CASE("data parallel: a --minutes budget, kept by rank 0, ends every rank at its step") {
  const fs::path dir = fresh_dir("dp_minutes");
  const fs::path out = dir / "run";
  // Each rank times its own steps; only rank 0's refits may count, or the
  // ranks would leave the loop at different steps and wait on each other.
  const Run r = mpirun(2, fmt::format("train --model t5 --task reverse --batch-size 8 {} "
                                      "--minutes 0.05 --quiet --out {}",
                                      kSmall, out.string()));
  INFO(r.output);
  CHECK(r.exit_code == 0);
  const CheckpointInfo info = read_checkpoint_info((out / "checkpoint.h5").string());
  CHECK(info.state.step > 0);
  CHECK_THAT(read_text(out / "metrics.jsonl"),
             Contains(fmt::format("\"step\": {}, \"split\": \"valid\"", info.state.step)));
  fs::remove_all(dir);
}

TEST_CASE("data parallel: ranks given different settings refuse to train") {
  const fs::path dir = fresh_dir("dp_settings");
  const std::string args = fmt::format(
      "{} train --model t5 --task reverse --batch-size 8 {} "
      "--steps 20 --quiet --out {}",
      ATTNLAB_BINARY, kSmall, (dir / "run").string());
  // One rank each, the second with another learning rate (mpirun's "a : b" form).
  const Run r =
      run_shell(fmt::format("{} timeout 120 mpirun --oversubscribe -np 1 {} : -np 1 {} --lr 0.5",
                            kMpiEnvironment, args, args));
  INFO(r.output);
  CHECK(r.exit_code != 0);
  CHECK(r.exit_code != 124);
  CHECK_THAT(r.output, Contains("the ranks were given different settings"));
  fs::remove_all(dir);
}

TEST_CASE("data parallel: commands other than train refuse to run on several ranks") {
  const Run r = mpirun(2, "tasks");
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, Contains("only train runs across MPI ranks"));
}

#endif  // ATTNLAB_HAVE_MPI
