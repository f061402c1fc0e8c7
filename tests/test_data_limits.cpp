// Data files the user names: special files, sizes, over-long lines and
// examples, and vocabularies and label sets are bounded and refused with
// file:line before they cost memory.
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

TEST_CASE("data files: FIFOs, devices and directories are refused at once, not read") {
  const fs::path dir = fresh_dir("hard_fifo");
  const fs::path fifo = dir / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {fmt::format("train --config {}", fifo.string()), "not a regular file"},
      {fmt::format("train --train-file {} --task-kind translation", fifo.string()),
       "not a regular file"},
      {fmt::format("predict --ckpt {} abc", fifo.string()), "not a regular file"},
      {"train --config /dev/zero", "not a regular file"},
      {"train --train-file /dev/zero --task-kind translation", "not a regular file"},
      {fmt::format("train --train-file {} --task-kind translation", dir.string()),
       "is a directory"},
  };
  for (const auto& [args, why] : cases) {
    const bool trains = args.rfind("train ", 0) == 0;
    const Run r =
        run_bounded(trains ? args + " --out " + (dir / "run").string() : args, dir / "log");
    INFO(args << "\n" << r.output);
    CHECK(r.exit_code == 2);  // ended by itself, with the usage exit code
    CHECK_THAT(r.output, Contains(why));
  }
  fs::remove_all(dir);
}

TEST_CASE("data files: data and config files above their size limit are refused unread") {
  const fs::path dir = fresh_dir("hard_big");
  const fs::path big = dir / "big.tsv";
  { std::ofstream(big) << "a\tb\n"; }
  fs::resize_file(big, (std::uintmax_t(256) << 20) + 1);  // sparse: no disk used
  Run r = run(fmt::format("train --train-file {} --task-kind translation --out {}", big.string(),
                          (dir / "run").string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains(big.string()) && Contains("bytes is more than"));
  const fs::path ini = dir / "big.ini";
  { std::ofstream(ini) << "task = reverse\n"; }
  fs::resize_file(ini, std::uintmax_t(2) << 20);
  r = run(fmt::format("train --config {} --out {}", ini.string(), (dir / "run").string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("--config " + ini.string()) && Contains("bytes is more than"));
  fs::remove_all(dir);
}

TEST_CASE("data files: an over-long TSV example is named by file:line, label lists are cut") {
  const fs::path dir = fresh_dir("hard_line");
  {
    std::ofstream tsv(dir / "long.tsv");
    for (int i = 0; i < 40; ++i) tsv << "abc\tcba\n";
    tsv << std::string(300, 'a') << "\tb\n";  // line 41, in the held-out tenth
    for (int i = 0; i < 2; ++i) tsv << "abc\tcba\n";
  }
  Run r =
      run(fmt::format("train --model gpt --train-file {} --task-kind translation --steps 1 "
                      "--max-len 64 --out {} {}",
                      (dir / "long.tsv").string(), (dir / "run").string(), kTiny));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("long.tsv:41: the held-out example needs"));
  {
    std::ofstream tsv(dir / "labels.tsv");
    for (int i = 0; i < 1000; ++i) tsv << "L" << i << "\ttext " << i << "\n";
    std::ofstream valid(dir / "valid.tsv");
    valid << "unknown\tsome text\n";
  }
  r = run(fmt::format(
      "train --model bert --train-file {} --valid-file {} --task-kind "
      "classification --steps 1 --out {} {}",
      (dir / "labels.tsv").string(), (dir / "valid.tsv").string(), (dir / "run").string(), kTiny));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("valid.tsv:1") && Contains("and 980 more"));
  CHECK(r.output.size() < 1000);
  fs::remove_all(dir);
}

TEST_CASE("data files: an over-long line is refused before it costs memory") {
#ifdef ATTNLAB_SHADOW_MEMORY
  WARN("skipped: an address-space limit cannot apply under AddressSanitizer or ThreadSanitizer");
#else
  // 48 MiB in one field. Its characters as strings would take 1.5 GB, as
  // token ids 192 MB; counted, they cost nothing. The address space is
  // capped well below the first.
  const fs::path dir = fresh_dir("hard_long_line");
  {
    std::ofstream tsv(dir / "long.tsv");
    tsv << std::string(size_t(48) << 20, 'a') << "\tb\n";
    for (int i = 0; i < 20; ++i) tsv << "abc\tcba\n";
  }
  const Run r =
      run_after(fmt::format("ulimit -v {}", 640 << 10),
                fmt::format("train --model gpt --train-file {} --task-kind translation --steps 1 "
                            "--max-len 64 --out {} {}",
                            (dir / "long.tsv").string(), (dir / "run").string(), kTiny));
  CHECK(r.exit_code == 2);
  // GPT reads BOS source SEP target EOS: 48 MiB + 1 + 3 positions.
  CHECK_THAT(r.output, Contains("long.tsv:1: the training example needs 50331652 positions"));
  fs::remove_all(dir);
#endif
}

TEST_CASE(
    "data files: vocabulary and labels from the data are bounded, the vocabulary as it is "
    "counted") {
  const fs::path dir = fresh_dir("hard_data_sizes");
  {
    std::ofstream valid(dir / "valid.tsv");
    valid << "L0\tw0\n";
    // 1000 lines of 2100 new words each: 2,100,000 words, more than the
    // 2^21 - 6 = 2,097,146 a vocabulary holds besides its special tokens.
    std::ofstream words(dir / "words.tsv");
    for (int line = 0, word = 0; line < 1000; ++line) {
      for (int i = 0; i < 2100; ++i) words << (i ? " " : "") << 'w' << word++;
      words << "\tx\n";
    }
    // 2^20 + 1 labels, one more than a classifier may have.
    std::ofstream labels(dir / "labels.tsv");
    for (int i = 0; i < (1 << 20) + 1; ++i) labels << 'L' << i << "\tt\n";
  }
  const auto train = [&](const char* model, const char* file, const char* kind) {
    return run(fmt::format(
        "train --model {} --train-file {} --valid-file {} --task-kind {} --tokenizer word "
        "--steps 1 --out {} {}",
        model, (dir / file).string(), (dir / "valid.tsv").string(), kind, (dir / "run").string(),
        kTiny));
  };
  Run r = train("gpt", "words.tsv", "translation");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("words.tsv: more than 2097146 distinct word tokens; a vocabulary "
                                "holds at most 2097152, with its 6 special tokens"));
  r = train("bert", "labels.tsv", "classification");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output,
             Contains("labels.tsv: 1048577 distinct labels, more than the 1048576 a classifier"));
  fs::remove_all(dir);
}

TEST_CASE("data files: a text too short for one block names the file and --block-size") {
  const fs::path dir = fresh_dir("hard_short_text");
  { std::ofstream(dir / "short.txt") << "hello\n"; }
  { std::ofstream(dir / "long.txt") << std::string(400, 'a') << "\n"; }
  const std::string lm = "train --model gpt --task-kind lm --steps 1 --block-size 32 --out " +
                         (dir / "run").string() + " --train-file ";
  Run r = run(lm + (dir / "short.txt").string());
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output,
             Contains("the training text (from " + (dir / "short.txt").string() + ":1)") &&
                 Contains("--block-size"));
  r = run(lm + (dir / "long.txt").string() + " --valid-file " + (dir / "short.txt").string());
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("the held-out text (from " + (dir / "short.txt").string() + ":1)"));
  fs::remove_all(dir);
}

TEST_CASE("data files: a text whose training cannot fit in memory is refused before it is read") {
#ifdef ATTNLAB_SHADOW_MEMORY
  WARN("skipped: a sanitizer's shadow memory makes an address-space limit meaningless");
#else
  const fs::path dir = fresh_dir("text_memory");
  const fs::path text = dir / "big.txt";
  { std::ofstream(text) << "a"; }
  fs::resize_file(text, 80 << 20);  // sparse: nothing is written, and nothing should be read
  const Run r = run_after("ulimit -v 655360",
                          fmt::format("train --model gpt --task-kind lm --train-file {} --steps 1 "
                                      "--out {}",
                                      text.string(), (dir / "run").string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains(text.string() + ": training a language model on 80 MiB of text "
                                                "needs about 720 MiB of memory") &&
                           Contains("more than the 640 MiB this process may use (ulimit -v)"));
  CHECK(!fs::exists(dir / "run"));
  fs::remove_all(dir);
#endif
}

TEST_CASE("data files: a metrics log that is a FIFO or a device is refused and not read forever") {
  const fs::path dir = fresh_dir("metrics_special");
  tiny_checkpoint(dir, "--stop-at 2");
  const fs::path fifo = dir / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  for (const std::string& metrics : {std::string("/dev/zero"), fifo.string()}) {
    INFO(metrics);
    const Run r =
        run_bounded(fmt::format("plot --metrics {} --out {}", metrics, (dir / "c.svg").string()),
                    dir / "log", 20);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains(metrics) && Contains("not a regular file"));
  }
  // A run whose log was replaced by a FIFO: --resume names it instead of hanging.
  const fs::path log = dir / "run" / "metrics.jsonl";
  fs::remove(log);
  REQUIRE(::mkfifo(log.c_str(), 0644) == 0);
  const Run r = run_bounded(fmt::format("train --resume --out {} --quiet", (dir / "run").string()),
                            dir / "log", 20);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains(log.string()) && Contains("not a regular file"));
  fs::remove_all(dir);
}
