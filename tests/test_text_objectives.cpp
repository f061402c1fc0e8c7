// Every family's own objective on a text file (train --task-kind lm), as a
// user runs it: BERT's masked LM and T5's span corruption learn, report
// bits per character, show a sample, and refuse what they cannot do.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>

#include <fmt/format.h>

#include "cli_process.h"
#include "train/checkpoint.h"
#include "train/train_config.h"

using namespace cli_test;
using Catch::Matchers::Contains;

namespace {

// The numbers of `key` in the held-out lines of a run's log, in order.
std::vector<double> held_out(const fs::path& run_dir, const std::string& key) {
  std::vector<double> out;
  for (const attnlab::Json& line : json_lines(read_text(run_dir / "metrics.jsonl")))
    if (line.contains("split") && line.at("split") == "valid") out.push_back(line.at(key));
  return out;
}

}  // namespace

TEST_CASE("text objectives: BERT fills in masked tokens and T5 dropped spans of a text") {
  const fs::path dir = fresh_dir("text_objectives");
  const fs::path text = dir / "text.txt";
  {
    std::ofstream out(text);
    for (int i = 0; i < 300; ++i) out << "the cat sat on the mat and the dog sat on the log\n";
  }
  const std::string common = fmt::format(
      "--task-kind lm --train-file {} --block-size 32 --d-model 48 --heads 2 --d-ff 96 "
      "--layers 2 --decoder-layers 2 --batch-size 16 --lr 3e-3 --steps 600 --eval-every 300",
      text.string());
  for (const char* model : {"bert", "t5"}) {
    INFO(model);
    const fs::path out = dir / model;
    const Run r = run(fmt::format("train --model {} {} --out {}", model, common, out.string()));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.output, Contains(std::string(model) == "bert" ? "masked language model"
                                                               : "span corruption"));
    CHECK_THAT(r.output, Contains("sample: ") && Contains("  ->  "));
    // The run ends with its summary, as a task's run does.
    CHECK_THAT(r.output, Contains("trained 600 steps in") && Contains("bits/char\nbest held-out"));
    // A repetitive text is learned: bits per character fall, and end well
    // below the log2(17) = 4.09 of a guess among the text's 17 characters.
    const std::vector<double> bits = held_out(out, "bits_per_char");
    REQUIRE(bits.size() == 2);
    CHECK(bits.back() < bits.front());
    CHECK(bits.back() < 0.6 * std::log2(17.0));
    // eval reads the checkpoint back with its objective; predict and generate refuse.
    Run e = run(fmt::format("eval --ckpt {} --format jsonl", out.string()));
    CHECK(e.exit_code == 0);
    CHECK_THAT(e.output, Contains("\"bits_per_char\""));
    e = run(fmt::format("eval --ckpt {}", out.string()));
    CHECK_THAT(e.output, Contains("(46 blocks of 32 tokens)") && Contains("bits/char"));
    e = run(fmt::format("predict --ckpt {} abc", out.string()));
    CHECK(e.exit_code == 2);
    CHECK_THAT(e.output, Contains("has no output for an input"));
    e = run(fmt::format("generate --ckpt {} --prompt the", out.string()));
    CHECK(e.exit_code == 2);
    CHECK_THAT(e.output, Contains("fills in text rather than continuing it"));
    e = run(fmt::format("trace --ckpt {} --input \"the cat sat on the mat\" --out {}", out.string(),
                        (dir / (std::string(model) + ".h5")).string()));
    CHECK(e.exit_code == 0);
  }
  const Run p =
      run(fmt::format("train --model perceiver {} --out {}", common, (dir / "perceiver").string()));
  CHECK(p.exit_code == 2);
  CHECK_THAT(p.output, Contains("a perceiver model has no objective for plain text"));
  const Run tiny =
      run(fmt::format("train --model t5 --task-kind lm --train-file {} --block-size 2 "
                      "--out {}",
                      text.string(), (dir / "tiny").string()));
  CHECK(tiny.exit_code == 2);
  CHECK_THAT(tiny.output, Contains("--block-size 2: T5's span corruption"));
  fs::remove_all(dir);
}

TEST_CASE("text objectives: the Kneser-Ney baseline gives held-out bits per character") {
  const fs::path dir = fresh_dir("text_baseline");
  const fs::path text = dir / "text.txt";
  {
    std::ofstream out(text);
    for (int i = 0; i < 200; ++i) out << "the cat sat on the mat and the dog sat on the log\n";
  }
  Run r = run(fmt::format("baseline --task-kind lm --train-file {} --max-n 4", text.string()));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output,
             Contains("order  1: ") && Contains("order  4: ") && Contains("best: order 4 at 0."));
  r = run(fmt::format("baseline --task-kind words --train-file {}", text.string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("--task-kind words: give classification or lm"));
  r = run(fmt::format("baseline --task-kind lm --train-file {} --max-n 17", text.string()));
  CHECK(r.exit_code == 2);
  fs::remove_all(dir);
}

TEST_CASE("text objectives: a language model on your own text starts from its own defaults") {
  // lr 3e-3 and batch 32 (docs/real-data.md), unless the user says otherwise; a
  // classification file keeps the generic lr 1e-3 and batch 64.
  const fs::path dir = fresh_dir("lm_defaults");
  const fs::path text = dir / "text.txt";
  {
    std::ofstream out(text);
    for (int i = 0; i < 200; ++i)
      out << "the quick brown fox jumps over the lazy dog " << i << "\n";
  }
  const auto stored = [&](const std::string& extra, const fs::path& out) {
    const Run r =
        run(fmt::format("train --model gpt --task-kind lm --train-file {} --steps 1 "
                        "--block-size 16 --set d_model=16 --set n_heads=2 --set d_ff=32 "
                        "--set n_layers=1 --quiet --out {} {}",
                        text.string(), out.string(), extra));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    return attnlab::train_config_fields().to_map(
        attnlab::read_checkpoint_info((out / "checkpoint.h5").string()).train);
  };
  const auto defaults = stored("", dir / "defaults");
  CHECK(std::stod(defaults.at("lr")) == 3e-3);
  CHECK(defaults.at("batch_size") == "32");
  const auto given = stored("--lr 1e-3 --batch-size 8", dir / "given");
  CHECK(std::stod(given.at("lr")) == 1e-3);
  CHECK(given.at("batch_size") == "8");
  CHECK(attnlab::recipe(attnlab::Family::GPT, "").lr == 1e-3);
  CHECK(attnlab::recipe(attnlab::Family::BERT, "", attnlab::data::TaskKind::Classification)
            .batch_size == 64);
  fs::remove_all(dir);
}
