// Run directories as a user meets them, through the executable: a trained
// model is never replaced silently, two runs never share a directory, every
// stop signal saves, a full or read-only disk is reported with the path and
// the previous checkpoint survives, and metrics.jsonl continues on resume.
#include <sys/mount.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "cli_process.h"
#include "io/hdf5.h"
#include "models/model.h"
#include "report/curves.h"
#include "train/checkpoint.h"
#include "train/metrics_log.h"
#include "train/run_dir.h"

using namespace cli_test;
using Catch::Matchers::Contains;

namespace {

std::string train_args(const fs::path& out, int64_t steps, const std::string& extra = "") {
  return fmt::format("train --model gpt --task reverse --steps {} --out {} {} {}", steps,
                     out.string(), kTiny, extra);
}

// A small tmpfs mounted for one test (root only), unmounted at the end.
struct SmallFilesystem {
  fs::path dir;
  bool mounted = false;
  SmallFilesystem(const fs::path& where, const std::string& options) : dir(where) {
    fs::create_directories(dir);
    mounted = ::geteuid() == 0 && ::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) == 0;
  }
  ~SmallFilesystem() {
    if (mounted) ::umount2(dir.c_str(), MNT_DETACH);
  }
};

// The checkpoint at `path` is whole: its config reads and its weights load.
int64_t checkpoint_step(const std::string& path) {
  attnlab::CheckpointInfo info = attnlab::read_checkpoint_info(path);
  auto model = attnlab::make_model(info.model);
  attnlab::load_parameters(path, *model);
  return info.state.step;
}

}  // namespace

TEST_CASE("run dir: a log without a model is not replaced silently, --out a file exits 2") {
  fs::path dir = fresh_dir("log_only");
  const fs::path out = dir / "out";
  fs::create_directories(out);
  const std::string log = "{\"step\": 5, \"split\": \"train\", \"loss\": 1.5}\n";
  { std::ofstream(out / "metrics.jsonl") << log; }
  Run r = run(train_args(out, 2));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("holds the metrics.jsonl of a run that saved no model") &&
                           Contains("--overwrite"));
  CHECK(read_text(out / "metrics.jsonl") == log);  // untouched
  CHECK(run(train_args(out, 2, "--overwrite")).exit_code == 0);

  { std::ofstream(dir / "file") << "not a directory\n"; }
  for (const std::string& bad : {(dir / "file").string(), std::string("''")}) {
    INFO(bad);
    r = run(fmt::format("train --model gpt --task reverse --steps 2 --out {} {}", bad, kTiny));
    CHECK(r.exit_code == 2);
  }
  CHECK(read_text(dir / "file") == "not a directory\n");
  fs::remove_all(dir);
}

TEST_CASE("run dir: a trained model is never replaced silently, --overwrite starts over") {
  fs::path dir = fresh_dir("owned");
  REQUIRE(run(train_args(dir / "out", 4)).exit_code == 0);
  Run r = run(train_args(dir / "out", 2));
  CHECK(r.exit_code == 2);  // nothing was done: change the command (cli/cli_common.h)
  CHECK_THAT(r.output, Contains("already holds a trained model") && Contains("--resume") &&
                           Contains("--overwrite"));
  CHECK(checkpoint_step((dir / "out" / "checkpoint.h5").string()) == 4);  // untouched
  r = run(train_args(dir / "out", 2, "--overwrite"));
  CHECK(r.exit_code == 0);
  CHECK(checkpoint_step((dir / "out" / "checkpoint.h5").string()) == 2);
  r = run(fmt::format("train --resume --out {} --eval-every 7", (dir / "out").string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("--eval-every 7 would change eval_every = 500"));
  r = run(train_args(dir / "out", 2, "--overwrite --resume"));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("contradict"));
  fs::remove_all(dir);
}

TEST_CASE(
    "run dir: a second run into a busy directory is refused and told who holds it, "
    "SIGTERM saves and exits 143, a killed run leaves no stale lock") {
  fs::path dir = fresh_dir("lock");
  const fs::path out = dir / "out";
  pid_t first = spawn(train_args(out, 100000, "--save-every 0"), dir / "first.log");
  REQUIRE(wait_until([&] { return training_logged(out); }));
  Run second = run(train_args(out, 5, "--overwrite"));
  CHECK(second.exit_code != 0);
  CHECK_THAT(second.output,
             Contains("another run is writing here") && Contains(fmt::format("pid {}", first)));
  ::kill(first, SIGTERM);
  CHECK(wait_exit(first) == 143);
  CHECK_THAT(read_text(dir / "first.log"), Contains("stopped by SIGTERM"));
  const int64_t saved = checkpoint_step((out / "checkpoint.h5").string());
  CHECK(saved > 0);
  // kill -9 cannot be caught: the run dies holding the lock, and the kernel
  // releases it, so the next run goes ahead.
  pid_t resumed =
      spawn(fmt::format("train --resume --out {} --quiet", out.string()), dir / "resumed.log");
  REQUIRE(wait_until(
      [&] { return read_text(out / "metrics.jsonl").find("resume") != std::string::npos; }));
  ::kill(resumed, SIGKILL);
  CHECK(wait_exit(resumed) == 128 + SIGKILL);
  Run after =
      run(fmt::format("train --resume --out {} --steps {} --quiet", out.string(), saved + 1));
  CHECK(after.exit_code == 0);
  CHECK(checkpoint_step((out / "checkpoint.h5").string()) == saved + 1);
  fs::remove_all(dir);
}

TEST_CASE("run dir: SIGHUP saves like Ctrl-C and exits 129, also when output cannot be written") {
  fs::path dir = fresh_dir("hup");
  // After a hang-up the terminal refuses writes; /dev/full refuses them too.
  // Progress lines (no --quiet here) must not end the run before it saves.
  const std::string args = fmt::format(
      "train --model gpt --task reverse --steps 100000 --save-every 0 --log-every 5 --out {} "
      "--d-model 32 --heads 2 --d-ff 64 --layers 1 --train-size 300 --valid-size 30 "
      "--batch-size 16",
      (dir / "out").string());
  pid_t child = spawn(args, "/dev/full");
  REQUIRE(wait_until([&] { return training_logged(dir / "out"); }));
  ::kill(child, SIGHUP);
  CHECK(wait_exit(child) == 129);
  CHECK(checkpoint_step((dir / "out" / "checkpoint.h5").string()) > 0);
  fs::remove_all(dir);
}

TEST_CASE("run dir: a run started with SIGHUP ignored (nohup) outlives its terminal") {
  fs::path dir = fresh_dir("nohup");
  const fs::path out = dir / "out";
  // As nohup starts it: SIGHUP ignored, which exec keeps.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::signal(SIGHUP, SIG_IGN);
    ::setenv("OMP_NUM_THREADS", "1", 1);
    const std::string cmd =
        fmt::format("exec {} {} > {} 2>&1", ATTNLAB_BINARY,
                    train_args(out, 100000, "--save-every 0"), (dir / "log").string());
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    ::_exit(127);
  }
  REQUIRE(wait_until([&] { return training_logged(out); }));
  ::kill(child, SIGHUP);
  int status = 0;
  // Still training a second later: the hang-up was ignored, as nohup asked.
  CHECK_FALSE(wait_until([&] { return ::waitpid(child, &status, WNOHANG) == child; }, 1.0));
  ::kill(child, SIGTERM);
  CHECK(wait_exit(child) == 143);
  const std::string log = read_text(dir / "log");
  CHECK_THAT(log, Contains("stopped by SIGTERM") && !Contains("SIGHUP"));
  fs::remove_all(dir);
}

TEST_CASE("run dir: a stop signal is heeded between micro-batches and saves the last whole step") {
  fs::path dir = fresh_dir("stop_micro");
  const fs::path out = dir / "out";
  // One optimizer step of 65536 micro-batches takes minutes; a stop must not wait for it.
  const pid_t child = spawn(fmt::format("train --model gpt --task reverse --steps 5 --batch-size "
                                        "2 --accumulation 65536 --d-model 16 --heads 2 --d-ff 32 "
                                        "--layers 1 --train-size 300 --valid-size 30 --out {}",
                                        out.string()),
                            dir / "log");
  // The metrics log is opened once the signal handlers are in place.
  REQUIRE(wait_until([&] { return fs::exists(out / "metrics.jsonl"); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // into the step
  ::kill(child, SIGTERM);
  int status = 0;
  const bool ended = wait_until([&] { return ::waitpid(child, &status, WNOHANG) == child; }, 20);
  if (!ended) ::kill(child, SIGKILL), ::waitpid(child, &status, 0);
  REQUIRE(ended);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 143);
  CHECK_THAT(read_text(dir / "log"), Contains("stopped by SIGTERM at step 0"));
  CHECK(checkpoint_step((out / "checkpoint.h5").string()) == 0);  // the last whole step
  fs::remove_all(dir);
}

TEST_CASE("run dir: metrics.jsonl continues on --resume, marks it, and drops a torn last line") {
  fs::path dir = fresh_dir("metrics");
  const fs::path out = dir / "out";
  REQUIRE(run(train_args(out, 20, "--stop-at 10 --log-every 5")).exit_code == 0);
  const std::string before = read_text(out / "metrics.jsonl");
  CHECK_THAT(before, Contains("\"step\": 10"));
  {
    std::ofstream torn(out / "metrics.jsonl", std::ios::app);
    torn << "{\"step\": 11, \"split\": \"tr";  // a crash in the middle of a write
  }
  Run r = run(fmt::format("train --resume --out {}", out.string()));
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("metrics.jsonl line") && Contains("was cut off"));
  const std::string after = read_text(out / "metrics.jsonl");
  CHECK(after.rfind(before, 0) == 0);  // what was there stays, in front
  CHECK_THAT(after, Contains("{\"event\": \"resume\", \"step\": 10") && Contains("\"step\": 20"));
  CHECK(after.find("\"tr\n") == std::string::npos);
  const attnlab::MetricsLog log = attnlab::read_metrics_log((out / "metrics.jsonl").string());
  CHECK(log.torn_line == 0);
  for (const std::string& line : log.lines)  // each line one whole JSON object
    CHECK_NOTHROW(attnlab::parse_metrics_line(line));
  fs::remove_all(dir);
}

TEST_CASE(
    "run dir: a disk too small, read-only or filling up is reported with the path, "
    "the previous checkpoint stays") {
  if (::geteuid() != 0) {
    WARN("not root: this test mounts small filesystems and needs root; skipped");
    return;
  }
  fs::path dir = fresh_dir("disk");
  SECTION("too small at start-up: refused before training") {
    SmallFilesystem small(dir / "tiny", "size=64k");
    REQUIRE(small.mounted);
    Run r = run(train_args(small.dir / "out", 5));
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.output, Contains((small.dir / "out").string()) && Contains("MB free") &&
                             Contains("needs about"));
  }
  SECTION("read-only") {
    SmallFilesystem ro(dir / "ro", "size=1m");
    REQUIRE(ro.mounted);
    fs::create_directories(ro.dir / "out");
    REQUIRE(::mount(nullptr, ro.dir.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr) == 0);
    Run r = run(train_args(ro.dir / "out", 5));
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.output, Contains((ro.dir / "out").string()) && Contains("Read-only"));
  }
  SECTION("fills up during the run: the save fails cleanly, the last checkpoint loads") {
    SmallFilesystem small(dir / "fills", "size=4m");
    REQUIRE(small.mounted);
    const fs::path out = small.dir / "out";
    pid_t child = spawn(train_args(out, 100000, "--save-every 2"), dir / "fills.log");
    REQUIRE(wait_until([&] { return fs::exists(out / "checkpoint.h5"); }));
    ::kill(child, SIGSTOP);  // hold it still while the disk fills
    {
      std::ofstream filler(small.dir / "filler", std::ios::binary);
      const std::string block(4096, 'x');
      while (filler.write(block.data(), block.size())) {
      }
    }
    const int64_t kept = checkpoint_step((out / "checkpoint.h5").string());
    ::kill(child, SIGCONT);
    const int code = wait_exit(child);
    CHECK(code == 1);  // an error message and exit, not a crash
    const std::string log = read_text(dir / "fills.log");
    CHECK_THAT(log, Contains("could not save the checkpoint") && Contains("is kept as it was") &&
                        Contains((out / "checkpoint.h5").string()));
    CHECK(checkpoint_step((out / "checkpoint.h5").string()) == kept);
    for (const auto& entry : fs::directory_iterator(out))  // no temporary files left behind
      CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);
  }
  fs::remove_all(dir);
}

TEST_CASE(
    "run dir: a save stopped by the file-size limit fails with the path, the checkpoint stays") {
  // The unprivileged twin of the full-disk case above: `ulimit -f 40` makes
  // a write fail (EFBIG) past 40 blocks (20 KiB in dash, 40 KiB in bash),
  // and the checkpoint of this model is about 200 KB. SIGXFSZ is ignored,
  // so the write returns the error.
  fs::path dir = fresh_dir("fsize");
  const fs::path out = dir / "out";
  REQUIRE(run(train_args(out, 4)).exit_code == 0);
  const Run r = run_after("trap '' XFSZ; ulimit -f 40",
                          fmt::format("train --resume --steps 8 --out {}", out.string()));
  CHECK(r.exit_code == 1);  // an error message and exit, not a crash at exit
  CHECK_THAT(r.output, Contains("could not save the checkpoint at step 8") &&
                           Contains((out / "checkpoint.h5.tmp-").string()) &&
                           Contains("File too large") && Contains("is kept as it was"));
  CHECK(checkpoint_step((out / "checkpoint.h5").string()) == 4);
  for (const auto& entry : fs::directory_iterator(out))  // no temporary files left behind
    CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);
  fs::remove_all(dir);
}

namespace {

// The "key": number pairs of one metrics.jsonl line (numbers only).
double field(const std::string& line, const std::string& key) {
  const size_t at = line.find("\"" + key + "\": ");
  return at == std::string::npos ? NAN : std::stod(line.substr(at + key.size() + 4));
}

std::vector<std::string> valid_lines(const fs::path& run_dir) {
  std::vector<std::string> out;
  for (const std::string& line :
       attnlab::read_metrics_log((run_dir / "metrics.jsonl").string()).lines)
    if (line.find("\"split\": \"valid\"") != std::string::npos) out.push_back(line);
  return out;
}

}  // namespace

TEST_CASE("run dir: best.h5 is the model of the best evaluation, --ckpt DIR loads it and says so") {
  fs::path dir = fresh_dir("best");
  const fs::path out = dir / "out";
  // A constant, high learning rate makes the held-out loss go up and down,
  // so the best evaluation is not the last one.
  REQUIRE(run(train_args(out, 35,
                         "--eval-every 5 --select-metric loss --lr 0.1 --schedule constant "
                         "--warmup 0"))
              .exit_code == 0);
  // The best step is the lowest held-out loss in the log (the first one on ties).
  const auto evals = valid_lines(out);
  REQUIRE(evals.size() == 7);
  std::string best_line = evals[0];
  for (const auto& line : evals)
    if (field(line, "loss") < field(best_line, "loss")) best_line = line;
  const int64_t best_step = int64_t(field(best_line, "step"));
  const attnlab::CheckpointInfo best = attnlab::read_checkpoint_info((out / "best.h5").string());
  CHECK(best.state.step == best_step);
  CHECK(best.state.best_step == best_step);
  CHECK(best_step < 35);
  // Its weights are that step's: evaluating it on the same examples gives the logged loss.
  Run r = run(fmt::format("eval --ckpt {} --examples 30 --format jsonl", out.string()));
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("best.h5"));
  CHECK(field(r.output, "loss") == Approx(field(best_line, "loss")).margin(2e-6));
  r = run(fmt::format("eval --ckpt {} --examples 30", out.string()));
  CHECK_THAT(r.output, Contains(fmt::format("best model: held-out loss {:.4f} at step {}",
                                            field(best_line, "loss"), best_step)));
  r = run(fmt::format("predict --ckpt {} abc", out.string()));
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("attnlab predict: " + (out / "best.h5").string() + " (best model"));
  r = run(fmt::format("predict --ckpt {} abc", (out / "checkpoint.h5").string()));
  CHECK_THAT(r.output, Contains("(checkpoint at step 35)"));
  fs::remove_all(dir);
}

TEST_CASE("run dir: --early-stop ends a run that stopped improving and says so") {
  fs::path dir = fresh_dir("early");
  const fs::path out = dir / "out";
  // A learning rate this small cannot change the held-out accuracy: the
  // first evaluation stays the best, the second does not beat it.
  Run r =
      run(fmt::format("train --model bert --task sentiment --steps 50 --eval-every 2 "
                      "--early-stop 1 --lr 1e-9 --out {} {}",
                      out.string(), kTiny));
  CHECK(r.exit_code == 0);
  const auto evals = valid_lines(out);
  REQUIRE(evals.size() == 2);
  CHECK(attnlab::read_checkpoint_info((out / "checkpoint.h5").string()).state.step == 4);
  CHECK(attnlab::read_checkpoint_info((out / "best.h5").string()).state.step == 2);
  r =
      run(fmt::format("train --model bert --task sentiment --steps 50 --eval-every 2 "
                      "--early-stop 1 --lr 1e-9 --out {} --overwrite --d-model 32 --heads 2 "
                      "--d-ff 64 --layers 1 --train-size 300 --valid-size 30 --batch-size 16 "
                      "--eval-examples 30",
                      out.string()));
  CHECK_THAT(r.output,
             Contains("early stop: held-out accuracy has not improved for 1 evaluations"));
  fs::remove_all(dir);
}

TEST_CASE("run dir: --minutes fits the steps and the schedule to the time and ends cleanly") {
  fs::path dir = fresh_dir("minutes");
  const fs::path out = dir / "out";
  const auto start = std::chrono::steady_clock::now();
  Run r =
      run(fmt::format("train --model gpt --task reverse --minutes 0.1 --log-every 1 "
                      "--eval-every 0 --out {} {}",
                      out.string(), kTiny));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  CHECK(r.exit_code == 0);
  CHECK(seconds < 6 + 10);  // the budget, plus start-up on a slow machine
  const attnlab::CheckpointInfo info =
      attnlab::read_checkpoint_info((out / "checkpoint.h5").string());
  CHECK(info.state.step > 20);
  CHECK(info.train.steps == info.state.step);  // the fitted length is the run's length
  CHECK(valid_lines(out).size() == 1);         // the final evaluation
  // The cosine schedule was stretched to the fitted length: it ends near its floor.
  std::string last_train;
  for (const std::string& line : attnlab::read_metrics_log((out / "metrics.jsonl").string()).lines)
    if (line.find("\"split\": \"train\"") != std::string::npos) last_train = line;
  // (Without the fit it would still be near its peak, 3000 steps away from the end.)
  CHECK(field(last_train, "lr") < 0.5 * info.train.lr);
  // Resumed with a new budget, the finished run trains on.
  r = run(fmt::format("train --resume --out {} --minutes 0.05", out.string()));
  CHECK(r.exit_code == 0);
  CHECK(attnlab::read_checkpoint_info((out / "checkpoint.h5").string()).state.step >
        info.state.step);
  r = run(fmt::format("train --model gpt --task reverse --minutes 1 --steps 10 --out {}",
                      (dir / "both").string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("--steps or --minutes, not both"));
  fs::remove_all(dir);
}

TEST_CASE("run dir: a run directory written before the JSON library still plots and resumes") {
  // tests/data/run_before_json: a GPT on dates stopped at step 4 of 6 by the
  // writer of hand-formatted lines ({"step": 2, "split": "train", ...}).
  const fs::path dir = fresh_dir("run_before_json");
  const fs::path out = dir / "run";
  fs::copy(fs::path(ATTNLAB_TEST_DATA_DIR) / "run_before_json", out);
  const std::string before = read_text(out / "metrics.jsonl");
  REQUIRE_THAT(before, Contains("{\"step\": 2, \"split\": \"train\""));
  Run r = run(fmt::format("plot --metrics {} --out {}", out.string(), (dir / "a.svg").string()));
  CHECK(r.exit_code == 0);
  r = run(fmt::format("train --resume --out {} --quiet", out.string()));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const std::string after = read_text(out / "metrics.jsonl");
  CHECK(after.rfind(before, 0) == 0);  // the old lines stay, the new ones follow
  const auto curves = attnlab::report::read_curves((out / "metrics.jsonl").string());
  CHECK(curves.warnings.empty());
  std::vector<double> train_steps, valid_steps;
  for (const auto& p : curves.train_loss) train_steps.push_back(p.step);
  for (const auto& p : curves.valid_score) valid_steps.push_back(p.step);
  CHECK(train_steps == std::vector<double>{2, 4, 6});
  CHECK(valid_steps == std::vector<double>{3, 6});
  CHECK(curves.score_name == "exact_match");
  fs::remove_all(dir);
}

TEST_CASE("run dir: a log line with a non-finite number written as nan or inf still reads") {
  const auto r = attnlab::parse_metrics_line(
      R"({"step": 4, "split": "train", "loss": nan, "lr": 1e-05, "grad_norm": inf, "elapsed_s": 1.5})");
  CHECK(r.kind == attnlab::MetricsRecord::Kind::Train);
  CHECK(r.step == 4);
  CHECK(std::isnan(r.loss));
  CHECK(r.elapsed_s == 1.5);
  CHECK_THROWS_WITH(attnlab::parse_metrics_line(R"({"step": 4, "split": "tr)"),
                    Contains("not valid JSON"));
}
