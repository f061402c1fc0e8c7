// The exit-code rule of cli/cli_common.h, walked over every command: a
// refusal exits 2 with "attnlab <command>: <what>" and leaves every file as
// it was; work that started and failed exits 1 with "error:".
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "checkpoint_fixtures.h"
#include "cli_process.h"

using namespace cli_test;
using Catch::Matchers::Contains;

namespace {

// Every file and directory below `dir`, with its size and modification time;
// a run directory's .lock is left out (a refused train takes the lock and
// writes who holds it, before it reads the options that refuse it).
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.path().filename() == ".lock") continue;
    struct stat st {};
    ::lstat(entry.path().c_str(), &st);
    out[entry.path().string()] =
        fmt::format("{} {} {}.{}", st.st_mode, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  }
  return out;
}

struct Refusal {
  const char* args;     // run in the fixture directory
  const char* message;  // part of what it must say
};

}  // namespace

TEST_CASE("exit codes: every command's refusals exit 2 and leave every file as it was") {
  const fs::path dir = fresh_dir("exit_codes");
  tiny_checkpoint(dir);  // dir/run: a trained GPT on reverse
  { std::ofstream(dir / "ok.tsv") << "abc\tcba\n"; }
  { std::ofstream(dir / "afile") << "not a directory\n"; }
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
  const std::vector<Refusal> refusals = {
      {"nope", "unknown command 'nope'"},
      // train
      {"train --bogus", "unrecognised option '--bogus'"},
      {"train --task reverse --steps -1", "--steps: must be positive"},
      {"train --task reverse --lr nan", "--lr: must be in (0, 10)"},
      {"train --task reverse --batch-size 70000", "--batch-size: must be in [1, 65536]"},
      {"train --model nope --task reverse", "'nope' is not one of bert, gpt, t5 or perceiver"},
      {"train --task nope", "unknown task 'nope'"},
      {"train --task reverse --set nope=1 --out new", "unknown model config 'nope'"},
      {"train --train-file missing.tsv --out new", "missing.tsv: cannot open the file"},
      {"train --train-file fifo --task-kind classification --out new", "fifo: is not a regular"},
      {"train --config missing.ini", "--config missing.ini: cannot open the file"},
      {"train --model gpt --task reverse --out run", "--out run: already holds a trained model"},
      {"train --model gpt --task reverse --out afile",
       "--out afile: exists and is not a directory"},
      {"train --model gpt --task reverse --out ''", "--out: must name a directory"},
      {"train --resume --out nowhere", "--resume: no checkpoint at nowhere/checkpoint.h5"},
      {"train --resume --out run --lr 0.5", "--resume continues"},
      {"train --resume --overwrite --out run", "contradict each other"},
      // eval, predict, generate
      {"eval", "the option '--ckpt' is required but missing"},
      {"eval --ckpt missing.h5", "--ckpt missing.h5: no such file"},
      {"eval --ckpt afile", "'afile' is not an HDF5 file"},
      {"eval --ckpt fifo", "fifo"},
      {"eval --ckpt run --valid-file missing.tsv", "missing.tsv: cannot open the file"},
      {"eval --ckpt run --beam 0", "--beam 0: must be 1 to 64"},
      {"eval --ckpt run --format nope", "'nope' is not one of text or jsonl"},
      {"predict --ckpt missing.h5 abc", "--ckpt missing.h5: no such file"},
      {"predict --ckpt run --beam 0 abc", "--beam 0: must be 1 to 64"},
      {"predict --ckpt run < /dev/null", "no input"},
      {"generate --ckpt run --prompt a", "generate continues text with a language model"},
      {"generate --ckpt missing --prompt a", "--ckpt missing: no such file"},
      // describe
      {"describe --model nope", "'nope' is not one of bert, gpt, t5 or perceiver"},
      {"describe --lengths 0", "--lengths 0: '0' is not a positive integer"},
      {"describe --model gpt --lengths 99999999999", "no gpt model can be that long"},
      {"describe --model gpt --measure --lengths 16384 --batch 64", "of activations"},
      // trace and plot: outputs that would replace what the user has
      {"trace --ckpt run --out x.svg", "give --input TEXT for one example, or --valid"},
      {"trace --ckpt missing --input abc --out x.svg", "--ckpt missing: no such file"},
      {"trace --ckpt run --input abc --out run/checkpoint.h5", "name of a run directory's file"},
      {"trace --ckpt run --input abc --out run/best.h5", "name of a run directory's file"},
      {"trace --ckpt run --input abc --out /nonexistent/x.svg", "'/nonexistent' does not exist"},
      {"trace --ckpt run --input abc --out fifo", "not a regular file"},
      {"trace --ckpt run --input abc --out .", "is a directory, not a file"},
      {"plot --out x.svg", "give --metrics RUN... for training curves, --trace RUN, or --scaling"},
      {"plot --metrics missing.jsonl --out x.svg", "--metrics missing.jsonl: no such file"},
      {"plot --metrics fifo --out x.svg", "--metrics fifo: is not a regular file"},
      {"plot --metrics /dev/zero --out x.svg", "--metrics /dev/zero: is not a regular file"},
      {"plot --metrics run --out run/metrics.jsonl", "name of a run directory's file"},
      {"plot --metrics run --out /nonexistent/x.svg", "'/nonexistent' does not exist"},
      // compare: everything is checked before the first run trains
      {"compare --task reverse", "the option '--out' is required"},
      {"compare --task nope --out cmp", "unknown task 'nope'"},
      {"compare --models gpt,gpt --task reverse --out cmp", "gpt is named twice"},
      {"compare --task reverse --out cmp --steps 0", "--steps 0: must be positive"},
      {"compare --task reverse --out afile", "--out afile: exists and is not a directory"},
      {"compare --task reverse --out run", "--out run: is the run directory of one training run"},
      // baseline, gradcheck, tasks
      {"baseline --task nope", "unknown task 'nope'"},
      {"baseline --task reverse", "the baseline classifies"},
      {"baseline --train-file missing.tsv", "missing.tsv: cannot open the file"},
      {"gradcheck --only nope", "no gradient check has a name starting with 'nope'"},
      {"tasks --bogus", "unrecognised option '--bogus'"},
  };
  for (const Refusal& refusal : refusals) {
    INFO("attnlab " << refusal.args);
    const auto before = snapshot(dir);
    const Run r = run_shell(fmt::format("cd {} && OMP_NUM_THREADS=1 {} {}", dir.string(),
                                        ATTNLAB_BINARY, refusal.args));
    CHECK(r.exit_code == 2);
    const std::string command =
        std::string(refusal.args).substr(0, std::string(refusal.args).find(' '));
    CHECK_THAT(r.output, Contains(command == "nope" ? "attnlab: " : "attnlab " + command + ": ") &&
                             Contains(refusal.message));
    CHECK_THAT(r.output, !Contains("error:"));  // that word is for work that failed (exit 1)
    CHECK(snapshot(dir) == before);
  }
  fs::remove_all(dir);
}

TEST_CASE("exit codes: work that started and failed exits 1 and says error") {
  const fs::path dir = fresh_dir("exit_failures");
  tiny_checkpoint(dir);
  // stdout is full; stderr is the test's.
  for (const char* args :
       {"predict --ckpt run abc", "eval --ckpt run", "describe --model gpt", "tasks",
        "trace --ckpt run --input abc", "baseline --task sentiment --train-size 200"}) {
    INFO("attnlab " << args << " > /dev/full");
    const Run r = run_shell(fmt::format("(cd {} && OMP_NUM_THREADS=1 {} {} > /dev/full)",
                                        dir.string(), ATTNLAB_BINARY, args));
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, Contains("error: cannot write the standard output"));
  }
  // With stderr full too there is nothing to say, but the exit codes hold:
  // no abort.
  CHECK(run_shell(fmt::format("{} tasks > /dev/full 2> /dev/full", ATTNLAB_BINARY)).exit_code == 1);
  CHECK(run_shell(fmt::format("{} train --bogus 2> /dev/full", ATTNLAB_BINARY)).exit_code == 2);
  CHECK(run_shell(fmt::format("{} --help > /dev/full", ATTNLAB_BINARY)).exit_code == 1);
  fs::remove_all(dir);
}
