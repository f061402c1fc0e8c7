// The attnlab executable as a user runs it: exit codes and messages for bad
// options, INI config files, Ctrl-C during training, predict and eval.
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "cli_process.h"
#include "io/hdf5.h"
#include "train/checkpoint.h"

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
namespace fs = std::filesystem;

namespace {

using namespace cli_test;

}  // namespace

TEST_CASE("cli: unknown commands and options are rejected with a message") {
  Run r = run("frobnicate");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("unknown command 'frobnicate'"));
  r = run("train --task dates --bogus 3");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("bogus"));
  r = run("train --task dates --batch-size abc");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("option 'batch_size': 'abc' is not an integer"));
  r = run("train --task nosuchtask");
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, Contains("nosuchtask") && Contains("dates"));
  r = run("train --task dates --norm batchnorm");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("'batchnorm' is not one of layernorm or rmsnorm"));
  r = run("train --model bert --task dates --quiet");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("cannot translate"));
  r = run("predict --ckpt /nonexistent/x.h5 hello");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("/nonexistent/x.h5: no such file"));
}

TEST_CASE("cli: --help works for every command") {
  for (const char* cmd : {"train", "eval", "predict", "tasks", "gradcheck", "describe"}) {
    Run r = run(fmt::format("{} --help", cmd));
    INFO(cmd);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.output, Contains(fmt::format("usage: attnlab {}", cmd)));
  }
}

TEST_CASE("cli: an INI config sets options, the command line wins, unknown keys are errors") {
  fs::path dir = fresh_dir("ini");
  {
    std::ofstream ini(dir / "run.ini");
    ini << "# a comment\nmodel = gpt\ntask = reverse\nsteps = 3\nwarmup = 7\nlr = 0.01\n";
  }
  Run r = run(fmt::format("train --config {} --steps 4 --out {} {}", (dir / "run.ini").string(),
                          (dir / "out").string(), kTiny));
  REQUIRE(r.exit_code == 0);
  auto info = attnlab::read_checkpoint_info((dir / "out" / "checkpoint.h5").string());
  CHECK(info.train.model == attnlab::Family::GPT);
  CHECK(info.train.warmup == 7);
  CHECK(info.train.lr == 0.01);
  CHECK(info.state.step == 4);  // command line beat the file's 3
  {
    std::ofstream ini(dir / "bad.ini");
    ini << "task = reverse\nbatch_sise = 8\n";
  }
  r = run(fmt::format("train --config {}", (dir / "bad.ini").string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("bad.ini") && Contains("batch_sise"));
  fs::remove_all(dir);
}

TEST_CASE("cli: Ctrl-C saves a checkpoint and exits cleanly, --resume continues") {
  fs::path dir = fresh_dir("sigint");
  pid_t child = spawn(fmt::format("train --model gpt --task reverse --steps 100000 --save-every "
                                  "0 --out {} {}",
                                  (dir / "out").string(), kTiny),
                      dir / "log");
  // Wait until training is under way (the first log line comes at step log_every).
  REQUIRE(wait_until([&] { return training_logged(dir / "out"); }));
  ::kill(child, SIGINT);
  CHECK(wait_exit(child) == 130);
  auto info = attnlab::read_checkpoint_info((dir / "out" / "checkpoint.h5").string());
  CHECK(info.state.step >= 50);
  // --resume picks up the stored settings; extending --steps just past the
  // interruption finishes quickly.
  Run r = run(fmt::format("train --resume --out {} --steps {} --quiet", (dir / "out").string(),
                          info.state.step + 2));
  CHECK(r.exit_code == 0);
  CHECK(attnlab::read_checkpoint_info((dir / "out" / "checkpoint.h5").string()).state.step ==
        info.state.step + 2);
  fs::remove_all(dir);
}

TEST_CASE("cli: predict --format jsonl gives each token's log-probability, they add up") {
  fs::path dir = fresh_dir("jsonl");
  Run r = run(fmt::format("train --model gpt --task reverse --steps 5 --out {} {}",
                          (dir / "out").string(), kTiny));
  REQUIRE(r.exit_code == 0);
  const std::string ckpt = (dir / "out" / "checkpoint.h5").string();
  r = run(fmt::format("predict --ckpt {} --format jsonl abc", ckpt));
  REQUIRE(r.exit_code == 0);
  // stderr says which checkpoint answered; stdout holds one JSON object per input.
  CHECK_THAT(r.output, StartsWith("attnlab predict: ") &&
                           Contains("checkpoint.h5 (checkpoint at step 5)") &&
                           Contains("\n{\"input\": \"abc\", \"output\": "));
  const attnlab::Json j = first_json(r.output);
  const std::vector<double> lp = j.at("token_log_probs");
  CHECK(lp.size() == j.at("token_ids").size());
  CHECK(j.at("tokens").size() == j.at("token_ids").size());
  double total = 0;
  for (double x : lp) total += x;
  const double eos = number_of(j.at("eos_log_prob"));
  if (!std::isnan(eos)) total += eos;  // stopped by EOS, not by max_len
  CHECK(std::log(number_of(j.at("probability"))) == Approx(total).epsilon(1e-9));
  fs::remove_all(dir);
}

TEST_CASE("cli: predict and eval read a checkpoint, TSV errors name file:line") {
  fs::path dir = fresh_dir("predict");
  {
    std::ofstream tsv(dir / "train.tsv");
    for (int i = 0; i < 60; ++i) tsv << (i % 2 ? "pos\tgood film " : "neg\tbad film ") << i << "\n";
  }
  Run r = run(fmt::format(
      "train --model bert --train-file {} --task-kind classification --steps 5 --out {} {}",
      (dir / "train.tsv").string(), (dir / "out").string(), kTiny));
  REQUIRE(r.exit_code == 0);
  const std::string ckpt = (dir / "out" / "checkpoint.h5").string();
  r = run(fmt::format("predict --ckpt {} \"good film 7\" \"bad film 8\"", ckpt));
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("good film 7\t") && Contains("bad film 8\t"));
  r = run(fmt::format("eval --ckpt {}", ckpt));
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("acc") && Contains("macro-F1"));
  // jsonl: the label distribution in full precision, its maximum the reported probability.
  r = run(fmt::format("predict --ckpt {} --format jsonl \"good film 7\"", ckpt));
  CHECK(r.exit_code == 0);
  const attnlab::Json j = first_json(r.output);
  const double p = j.at("probability");
  const double p_pos = j.at("label_probabilities").at("pos");
  const double p_neg = j.at("label_probabilities").at("neg");
  CHECK(p_pos + p_neg == Approx(1.0).epsilon(1e-12));
  CHECK(p == std::max(p_pos, p_neg));
  r = run(fmt::format("eval --ckpt {} --format jsonl", ckpt));
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, StartsWith("{\"checkpoint\":"));
  const attnlab::Json metrics = first_json(r.output);
  CHECK(metrics.contains("accuracy"));
  CHECK(metrics.contains("macro_f1"));
  r = run(fmt::format("predict --ckpt {} --format csv x", ckpt));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("--format: 'csv' is not one of text or jsonl"));
  {
    std::ofstream bad(dir / "bad.tsv");
    bad << "pos\tfine\nthis line has no tab\n";
  }
  r = run(fmt::format("train --model bert --train-file {} --task-kind classification --quiet",
                      (dir / "bad.tsv").string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("bad.tsv:2"));
  fs::remove_all(dir);
}

TEST_CASE("cli: the baseline scores your data, and --tokenizer auto takes words for sentences") {
  fs::path dir = fresh_dir("baseline");
  {
    std::ofstream tsv(dir / "train.tsv");
    for (int i = 0; i < 60; ++i)
      tsv << (i % 2 ? "pos\ta good film " : "neg\ta bad film ") << i << "\n";
  }
  const std::string data = (dir / "train.tsv").string();
  Run r = run(fmt::format("baseline --train-file {}", data));
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("naive Bayes") && Contains("54 train / 6 held-out") &&
                           Contains("acc 100.00%"));
  r = run(fmt::format("baseline --task reverse"));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("the baseline classifies; this task is translation"));
  // A built-in text gets the Kneser-Ney character model's bits per character.
  r = run("baseline --task counting --train-size 2000 --max-n 3");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("Kneser-Ney") && Contains("order  3: ") && Contains("best: order"));
  r = run(fmt::format(
      "train --model bert --train-file {} --task-kind classification --steps 2 --out {} {}", data,
      (dir / "out").string(), kTiny));
  REQUIRE(r.exit_code == 0);
  attnlab::H5File f = attnlab::H5File::open_read((dir / "out" / "checkpoint.h5").string());
  CHECK(f.get_attribute("train_config", "tokenizer") == "word");
  CHECK(f.read_string("data/vocab_kind") == "word");
  fs::remove_all(dir);
}

TEST_CASE("cli: predict searches with --beam and samples with --seed, eval reports the beam") {
  fs::path dir = fresh_dir("search");
  Run r = run(fmt::format("train --model t5 --task reverse --steps 8 --out {} {}",
                          (dir / "t5").string(), kTiny));
  REQUIRE(r.exit_code == 0);
  const std::string ckpt = (dir / "t5").string();
  r = run(fmt::format("predict --ckpt {} --beam 3 --format jsonl abc", ckpt));
  REQUIRE(r.exit_code == 0);
  CHECK(first_json(r.output).contains("output"));
  // Sampling: the same seed gives the same text.
  const std::string sample =
      fmt::format("predict --ckpt {} --temperature 1.5 --seed 4 abcdef", ckpt);
  Run a = run(sample), b = run(sample);
  REQUIRE(a.exit_code == 0);
  CHECK(a.output == b.output);
  r = run(fmt::format("eval --ckpt {} --beam 2 --examples 20 --format jsonl", ckpt));
  REQUIRE(r.exit_code == 0);
  CHECK(first_json(r.output).at("beam") == 2);
  CHECK(first_json(r.output).contains("exact_match"));
  // Options that contradict each other or cannot apply are named.
  r = run(fmt::format("predict --ckpt {} --beam 2 --temperature 1 abc", ckpt));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("--beam") && Contains("--temperature"));
  r = run(fmt::format("predict --ckpt {} --top-k 5 abc", ckpt));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("--temperature above 0"));
  r = run(fmt::format("train --model bert --task majority --steps 4 --out {} {}",
                      (dir / "bert").string(), kTiny));
  REQUIRE(r.exit_code == 0);
  r = run(fmt::format("predict --ckpt {} --beam 2 abab", (dir / "bert").string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("classifies"));
  fs::remove_all(dir);
}

TEST_CASE("cli: a GPT learns a text file (--task-kind lm) and generate continues a prompt") {
  fs::path dir = fresh_dir("lm");
  const fs::path text = dir / "corpus.txt";
  {
    std::ofstream out(text);
    for (int i = 0; i < 300; ++i) out << "abcabc abc " << (i % 7) << " the end.\n";
  }
  // Not quiet: the progress shows the held-out bits per character and a sample.
  Run r =
      run(fmt::format("train --model gpt --task-kind lm --train-file {} --block-size 24 "
                      "--steps 30 --eval-every 15 --out {} --d-model 32 --heads 2 --d-ff 64 "
                      "--layers 1 --batch-size 16",
                      text.string(), (dir / "lm").string()));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("bits/char") && Contains("blocks of 24 tokens"));
  CHECK_THAT(r.output, Contains("sample: "));
  CHECK_THAT(read_text(dir / "lm" / "metrics.jsonl"), Contains("\"bits_per_char\":"));
  // Generation: streamed text, the same for the same seed (60 new tokens asked, more than the
  // 24-token context).
  const std::string gen =
      fmt::format("generate --ckpt {} --prompt abc --max-new 60 --seed 9", (dir / "lm").string());
  Run a = run(gen), b = run(gen);
  REQUIRE(a.exit_code == 0);
  CHECK(a.output == b.output);
  CHECK_THAT(a.output, Contains("\nabc"));  // stdout starts with the prompt
  // eval reads a held-out plain text file and reports bits per character.
  r = run(fmt::format("eval --ckpt {} --valid-file {} --format jsonl", (dir / "lm").string(),
                      text.string()));
  CHECK(r.exit_code == 0);
  CHECK(first_json(r.output).contains("bits_per_char"));
  r = run(fmt::format("eval --ckpt {} --beam 2", (dir / "lm").string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("language model"));
  // A text of one long line trains: it is split by characters (a single line could not be split
  // into training and held-out lines).
  const fs::path one_line = dir / "one_line.txt";
  {
    std::ofstream out(one_line);
    for (int i = 0; i < 200; ++i) out << "abc " << (i % 5) << " ";
  }
  r =
      run(fmt::format("train --model gpt --task-kind lm --train-file {} --block-size 16 --steps 3 "
                      "--out {} {}",
                      one_line.string(), (dir / "one").string(), kTiny));
  CHECK(r.exit_code == 0);
  // trace shows where a language model looks over the text itself.
  r = run(fmt::format("trace --ckpt {} --input abcabc --out {}", (dir / "lm").string(),
                      (dir / "trace.h5").string()));
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("decoder/layers/0/self_attn") && Contains("(2,6,6)"));
  // A language model's run resumes (bit-for-bit resumption is tested in test_train.cpp).
  r = run(fmt::format("train --resume --out {} --steps 40 --quiet", (dir / "lm").string()));
  CHECK(r.exit_code == 0);
  // What cannot work is said.
  r = run(
      fmt::format("train --model perceiver --task-kind lm --train-file {} --steps 2 --out {} {}",
                  text.string(), (dir / "perceiver").string(), kTiny));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("a perceiver model has no objective for plain text"));
  const fs::path bad = dir / "bad.txt";
  {
    std::ofstream out(bad, std::ios::binary);
    out << "fine line\nbroken \xff byte\n";
  }
  r = run(fmt::format("train --model gpt --task-kind lm --train-file {} --steps 2 --out {} {}",
                      bad.string(), (dir / "bad").string(), kTiny));
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, Contains("bad.txt:2"));
  r = run(fmt::format("predict --ckpt {} abc", (dir / "lm").string()));
  CHECK(r.exit_code != 0);
  CHECK_THAT(r.output, Contains("use attnlab generate"));
  fs::remove_all(dir);
}
