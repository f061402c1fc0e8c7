// Command-line options and INI files: bad values and combinations are named,
// with the exit codes cli/cli_common.h documents, and output that cannot be
// written is a failure.
#include <hdf5.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>

#include "checkpoint_fixtures.h"
#include "cli_process.h"
#include "common/errors.h"
#include "common/sanitizers.h"
#include "documented_checksums.h"
#include "io/hdf5.h"
#include "models/config.h"
#include "optim/optim.h"
#include "train/checkpoint.h"

using namespace cli_test;
using Catch::Matchers::Contains;

TEST_CASE("options: model sizes are bounded per field and in total, naming the field") {
  using attnlab::ModelConfig;
  const auto refusal = [](const char* key, const char* value) {
    ModelConfig c = attnlab::preset(attnlab::Family::T5);
    attnlab::set_config_field(c, key, value);
    try {
      attnlab::validate(c);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  CHECK_THAT(refusal("n_layers", "1000000"), Contains("'n_layers'") && Contains("512"));
  CHECK_THAT(refusal("max_len", "100000000"), Contains("'max_len'"));
  CHECK_THAT(refusal("relative_buckets", "1000000000"), Contains("'relative_buckets'"));
  CHECK_THAT(refusal("d_model", "1000000000"), Contains("'d_model'"));
  CHECK_THAT(refusal("norm_eps", "inf"), Contains("'norm_eps'") && Contains("finite"));
  // Every field within its bound, but together far too large.
  ModelConfig big = attnlab::preset(attnlab::Family::GPT);
  big.d_model = 16384;
  big.n_heads = 16;
  big.d_ff = 65536;
  big.n_layers = 64;
  CHECK_THROWS_WITH(attnlab::validate(big),
                    Contains("would have") && Contains("parameters") && Contains("more than"));
  // The count is exact: the same as a built model's.
  ModelConfig small = attnlab::preset(attnlab::Family::T5);
  small.d_model = 32;
  small.n_heads = 2;
  small.d_ff = 64;
  CHECK(attnlab::parameter_count(small) == attnlab::make_model(small)->parameter_count());
}

TEST_CASE("options: --threads beyond the machine is refused") {
  const Run r = run("describe --model gpt --threads 100000");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("--threads 100000") && Contains("cores"));
}

TEST_CASE("options: interval options name themselves") {
  const fs::path dir = fresh_dir("hard_interval");
  for (const char* option : {"--save-every -1", "--log-every 0", "--eval-examples -1"}) {
    const Run r = run(
        fmt::format("train --task reverse --steps 1 --out {} {}", (dir / "run").string(), option));
    INFO(option);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains(std::string(option).substr(0, std::string(option).find(' '))));
  }
  fs::remove_all(dir);
}

TEST_CASE("options: --set cannot set what the run sets itself, INI files cannot set --config") {
  for (const char* set : {"vocab_size=5", "num_classes=0", "seed=3"}) {
    const Run r =
        run(fmt::format("train --task reverse --steps 1 --out {} --set {}",
                        (fs::temp_directory_path() / "attnlab_never_made").string(), set));
    INFO(set);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains("is set"));
  }
  const fs::path dir = fresh_dir("hard_ini");
  for (const char* line : {"config = other.ini", "help = 1"}) {
    std::ofstream(dir / "run.ini") << "task = reverse\n" << line << "\n";
    const Run r = run(fmt::format("train --config {} --out {}", (dir / "run.ini").string(),
                                  (dir / "run").string()));
    INFO(line);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains("command-line option"));
  }
  fs::remove_all(dir);
}

TEST_CASE("options: bad options and bad input files exit 2, as cli_common.h documents") {
  const fs::path dir = fresh_dir("hard_exit");
  { std::ofstream(dir / "bad.tsv") << "pos\tfine\nthis line has no tab\n"; }
  { std::ofstream(dir / "not.h5") << "not an HDF5 file\n"; }
  for (const std::string& args :
       {std::string("train --task reverse --d-model 0"),
        std::string("train --task reverse --heads 3"),
        std::string("train --task reverse --dropout 1.0"),
        std::string("train --model bert --task brackets --heads 128 --steps 1 --quiet"),
        fmt::format("train --model bert --train-file {} --task-kind classification --quiet",
                    (dir / "bad.tsv").string()),
        fmt::format("eval --ckpt {}", (dir / "not.h5").string())}) {
    const bool trains = args.rfind("train ", 0) == 0;
    const Run r = run(trains ? args + " --out " + (dir / "run").string() : args);
    INFO(args << "\n" << r.output);
    CHECK(r.exit_code == 2);
  }
  fs::remove_all(dir);
}

TEST_CASE("options: output that cannot be written is a failure, not a silent success") {
  const fs::path dir = fresh_dir("hard_full");
  for (const char* command : {"tasks", "describe --model gpt"}) {
    const std::string cmd =
        fmt::format("{} {} > /dev/full 2> {}", ATTNLAB_BINARY, command, (dir / "err").string());
    const int status = std::system(cmd.c_str());
    INFO(command);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 1);
    CHECK_THAT(read_text(dir / "err"), Contains("cannot write the standard output"));
  }
  // A metrics log that cannot be written stops the run, naming it; no metric is lost silently.
  const fs::path out = dir / "run";
  fs::create_directories(out);
  fs::create_symlink("/dev/full", out / "metrics.jsonl");
  const Run r = run(fmt::format("train --task reverse --steps 3 --out {} {}", out.string(), kTiny));
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Contains("cannot write " + (out / "metrics.jsonl").string()));
  fs::remove_all(dir);
}

TEST_CASE("options: an unknown INI key is named with its line, even one like Boost's placeholder") {
  const fs::path dir = fresh_dir("hard_ini_key");
  { std::ofstream(dir / "run.ini") << "model = t5\n\n%canonical_option% = 4\n"; }
  const Run r = run_bounded(
      fmt::format("train --config {} --out {}", (dir / "run.ini").string(), (dir / "run").string()),
      dir / "log");
  CHECK(r.exit_code == 2);  // an answer, not a loop in Boost's message formatting
  CHECK_THAT(r.output, Contains("run.ini:3: unrecognised option '%canonical_option%'"));
  fs::remove_all(dir);
}

TEST_CASE("options: an argument that holds one of Boost's placeholders is quoted, not looped on") {
  const fs::path dir = fresh_dir("hard_placeholder");
  const std::string out = (dir / "run").string();
  // Each of these would make Boost's message formatting loop forever: the
  // value or option name holds the very placeholder that Boost's template
  // puts it in.
  { std::ofstream(dir / "value.ini") << "model = t5\nstop-at = %value%\n"; }
  { std::ofstream(dir / "prefix.ini") << "pr%ef%canonical_option%prefi = 1\n"; }
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"train --stop-at %value% --out " + out, "'%value%'"},
      {"train --threads x%value% --out " + out, "'x%value%'"},
      {"train --%canonical_option% --out " + out, "'--%canonical_option%'"},
      {"eval --ckpt %option%%value% --bogus%prefix%", "'--bogus%prefix%'"},
      {fmt::format("train --config {} --out {}", (dir / "value.ini").string(), out), "'%value%'"},
      {fmt::format("train --config {} --out {}", (dir / "prefix.ini").string(), out),
       "prefix.ini:1: "},
  };
  for (const auto& [args, quoted] : cases) {
    INFO(args);
    const Run r = run_bounded(args, dir / "log", 20);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains(quoted));
  }
  fs::remove_all(dir);
}

TEST_CASE("options: memory that runs out is named as such and with the options that set it") {
#ifdef ATTNLAB_SHADOW_MEMORY
  WARN("skipped: a sanitizer's shadow memory makes an address-space limit meaningless");
#else
  const fs::path dir = fresh_dir("out_of_memory");
  // 16 million generated examples need gigabytes; the address space is
  // bounded to 1 GB so that an allocation fails while the data is made.
  const std::string cmd = fmt::format(
      "ulimit -v 1000000; exec {} train --model gpt --task reverse --train-size 16000000 --quiet "
      "--out {} > {} 2>&1",
      ATTNLAB_BINARY, (dir / "run").string(), (dir / "log").string());
  const int status = std::system(cmd.c_str());
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  const std::string log = read_text(dir / "log");
  CHECK_THAT(log, Contains("out of memory while running `attnlab train`") &&
                      Contains("--train-size") && !Contains("std::bad_alloc"));
  fs::remove_all(dir);
#endif
}

TEST_CASE("options: a step too big for the memory is refused before training, with figures") {
  const fs::path dir = fresh_dir("step_memory");
  // Hundreds of GiB of activations: more than any machine that runs these tests.
  Run r =
      run(fmt::format("train --model gpt --task reverse --batch-size 60000 --train-size 60000 "
                      "--d-model 512 --layers 8 --heads 8 --d-ff 2048 --quiet --out {}",
                      (dir / "big").string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("a training step needs about") &&
                           Contains("micro-batch of 60000 rows") && Contains("--batch-size") &&
                           !Contains("bad_alloc"));
  CHECK_FALSE(fs::exists(dir / "big"));  // the directory the refused run made is gone again
  // A directory that was there before stays, as it was.
  fs::create_directories(dir / "mine");
  r =
      run(fmt::format("train --model gpt --task reverse --batch-size 60000 --train-size 60000 "
                      "--d-model 512 --layers 8 --heads 8 --d-ff 2048 --quiet --out {}",
                      (dir / "mine").string()));
  CHECK(r.exit_code == 2);
  CHECK(fs::is_directory(dir / "mine"));
#ifndef ATTNLAB_SHADOW_MEMORY
  // The address-space limit counts as well, and is named.
  const std::string cmd = fmt::format(
      "ulimit -v 3000000; exec {} train --model gpt --task reverse --batch-size 4096 --d-model 256 "
      "--heads 4 --d-ff 1024 --layers 4 --quiet --out {} > {} 2>&1",
      ATTNLAB_BINARY, (dir / "limited").string(), (dir / "log").string());
  const int status = std::system(cmd.c_str());
  CHECK(WEXITSTATUS(status) == 2);
  CHECK_THAT(read_text(dir / "log"), Contains("(ulimit -v)"));
#endif
  fs::remove_all(dir);
}

TEST_CASE("options: describe --measure refuses a length whose pass cannot fit in memory") {
  // Attention keeps O(T) memory, so it takes a long sequence and a large batch.
  const Run r = run("describe --model gpt --lengths 64,16384 --batch 4096 --measure --repeats 1");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("--measure at T=16384") && Contains("TiB of activations") &&
                           !Contains("## gpt"));  // refused before any table
}
