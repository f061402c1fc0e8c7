// predict's input: one row per input line, and inputs and outputs bounded by
// the model's max_len and --max-new, refused up front with their line.
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

TEST_CASE("predict: predict keeps one row per input line, refuses TABs and endless lines") {
  const fs::path dir = fresh_dir("hard_predict");
  const std::string ckpt = tiny_checkpoint(dir);
  { std::ofstream(dir / "in.txt") << "abc\n\ncba\r\n"; }
  Run r = run(fmt::format("predict --ckpt {} < {}", ckpt, (dir / "in.txt").string()));
  REQUIRE(r.exit_code == 0);
  std::vector<std::string> rows;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("attnlab predict:", 0) != 0) rows.push_back(line);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0].rfind("abc\t", 0) == 0);
  CHECK(rows[1].rfind("\t", 0) == 0);  // the empty input, answered in its place
  CHECK(rows[2].rfind("cba\t", 0) == 0);
  r = run(fmt::format("predict --ckpt {} \"$(printf 'a\\tb')\"", ckpt));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("input 1 contains a TAB") && Contains("--format jsonl"));
  r = run_bounded(fmt::format("predict --ckpt {} < /dev/zero", ckpt), dir / "log");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("stdin line 1: longer than"));
  fs::remove_all(dir);
}

TEST_CASE("predict: T5 predict bounds the input by max_len and the output by --max-new") {
  const fs::path dir = fresh_dir("hard_t5");
  const fs::path out = dir / "run";
  // A long max_len and one step: the model has not learned to stop.
  REQUIRE(run(fmt::format("train --model t5 --task reverse --steps 1 --save-every 0 --out {} {} "
                          "--max-len 4096",
                          out.string(), kTiny))
              .exit_code == 0);
  const std::string ckpt = (out / "checkpoint.h5").string();
  Run r = run(fmt::format("predict --ckpt {} {}", ckpt, std::string(5000, 'a')));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("more than the model's max_len 4096"));
  // How many tokens one jsonl prediction holds.
  const auto tokens_in = [](const std::string& jsonl) {
    return first_json(jsonl).at("token_ids").size();
  };
  r = run(fmt::format("predict --ckpt {} --format jsonl --max-new 5 abc", ckpt));
  REQUIRE(r.exit_code == 0);
  CHECK(tokens_in(r.output) == 5);
  CHECK_THAT(r.output, Contains("\"stopped_by\": \"max_new\""));
  // Without --max-new, 256 tokens, far below max_len.
  r = run(fmt::format("predict --ckpt {} --format jsonl abc", ckpt));
  REQUIRE(r.exit_code == 0);
  CHECK(tokens_in(r.output) == 256);
  CHECK_THAT(r.output, Contains("\"stopped_by\": \"max_new\""));
  r = run(fmt::format("predict --ckpt {} --max-new 0 abc", ckpt));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("--max-new 0"));
  // A max_len of 24 leaves the decoder room for <bos> and 23 tokens.
  const fs::path short_run = dir / "short";
  REQUIRE(run(fmt::format("train --model t5 --task reverse --steps 1 --save-every 0 --out {} {} "
                          "--max-len 24",
                          short_run.string(), kTiny))
              .exit_code == 0);
  r = run(
      fmt::format("predict --ckpt {} --format jsonl abc", (short_run / "checkpoint.h5").string()));
  REQUIRE(r.exit_code == 0);
  CHECK(tokens_in(r.output) == 23);
  CHECK_THAT(r.output, Contains("\"stopped_by\": \"max_len\""));
  fs::remove_all(dir);
}

TEST_CASE("predict: every family refuses a too-long prediction input up front, naming it") {
  const fs::path dir = fresh_dir("hard_long_input");
  const std::string long_input(100, '(');
  // BERT classifies with [CLS]; GPT scores each label after BOS input SEP; T5 encodes input EOS.
  const std::vector<std::pair<std::string, std::string>> runs = {
      {"--model bert --task brackets", "tokens with [CLS], more than the model's max_len 64"},
      {"--model gpt --task brackets", "tokens with BOS, SEP, the longest label and EOS"},
      {"--model t5 --task brackets", "tokens with EOS, more than the model's max_len 64"}};
  for (const auto& [model, says] : runs) {
    INFO(model);
    const fs::path out = dir / "run";
    fs::remove_all(out);
    REQUIRE(run(fmt::format("train {} --steps 1 --save-every 0 --max-len 64 --out {} {}", model,
                            out.string(), kTiny))
                .exit_code == 0);
    const Run r = run(fmt::format("predict --ckpt {} '()' '{}' '(())'",
                                  (out / "checkpoint.h5").string(), long_input));
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains("input 2 has") && Contains(says));
    CHECK_THAT(r.output, !Contains("\t"));  // nothing predicted before the refusal
  }
  fs::remove_all(dir);
}

TEST_CASE("predict: stdin is predicted a chunk at a time in order and in bounded memory") {
  const fs::path dir = fresh_dir("predict_stream");
  REQUIRE(run(fmt::format("train --model bert --task brackets --steps 2 --out {} {}",
                          (dir / "run").string(), kTiny))
              .exit_code == 0);
  // 600 lines span three chunks; every line gets its row, in order.
  {
    std::ofstream in(dir / "in.txt");
    for (int i = 0; i < 600; ++i) in << (i % 2 ? "()" : "[]") << "\n";
  }
  const Run r = run(fmt::format("predict --ckpt {} --format jsonl < {}", (dir / "run").string(),
                                (dir / "in.txt").string()));
  REQUIRE(r.exit_code == 0);
  const auto rows = json_lines(r.output);
  REQUIRE(rows.size() == 600);
  CHECK(rows[0].at("input") == "[]");
  CHECK(rows[599].at("input") == "()");
  // An input too long for the model in a later chunk names where it is.
  {
    std::ofstream in(dir / "long.txt");
    for (int i = 0; i < 300; ++i) in << "()\n";
    in << std::string(200, '(') << "\n";
  }
  const Run bad = run(
      fmt::format("predict --ckpt {} < {}", (dir / "run").string(), (dir / "long.txt").string()));
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.output, Contains("after the first 256 lines: input 45 has 201 tokens"));
#ifndef ATTNLAB_SHADOW_MEMORY
  // A million empty lines: memory stays that of one chunk (about 20 MB in
  // all here), where reading them all first took hundreds of megabytes.
  const std::string cmd =
      fmt::format("yes '' | head -n 1000000 | {} predict --ckpt {} > /dev/null 2>&1",
                  ATTNLAB_BINARY, (dir / "run").string());
  REQUIRE(std::system(cmd.c_str()) == 0);
  struct rusage usage {};
  ::getrusage(RUSAGE_CHILDREN, &usage);
  CHECK(usage.ru_maxrss < 100 * 1024);  // KiB: the largest child of this test
#endif
  fs::remove_all(dir);
}
