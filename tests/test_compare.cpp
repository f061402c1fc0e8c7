// `attnlab compare` as a user runs it, on tiny models and budgets: the runs,
// the table, how families that cannot do a task are handled, matched
// parameter counts, and a report.html that is well-formed and self-contained.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "cli_process.h"
#include "study/loaded_run.h"
#include "xml_check.h"

using Catch::Matchers::Contains;
using namespace cli_test;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

// An integer of a JSON line.
int64_t json_int(const std::string& line, const std::string& key) {
  return first_json(line).at(key).get<int64_t>();
}

const char* kTinyModels = "--d-model 16 --heads 2 --d-ff 32 --layers 1 --batch-size 16 --quiet";

}  // namespace

TEST_CASE("compare: all four families on a classification task, with seeds, and the report") {
  const fs::path out = fresh_dir("compare_brackets");
  Run r = run(fmt::format("compare --task brackets --steps 12 --seeds 2 --out {} {}", out.string(),
                          kTinyModels));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("gpt: adapted") && Contains("t5: adapted"));
  for (const char* family : {"| bert ", "| gpt ", "| t5 ", "| perceiver "})
    CHECK_THAT(r.output, Contains(family));
  CHECK_THAT(r.output, Contains(" ± "));  // two seeds: mean and spread
  for (const char* run : {"bert-seed1", "bert-seed2", "gpt-seed1", "t5-seed2", "perceiver-seed1"}) {
    CHECK(fs::exists(out / run / "metrics.jsonl"));
    CHECK(fs::exists(out / run / "checkpoint.h5"));
  }
  const auto results = lines_of(read_text(out / "results.jsonl"));
  CHECK(results.size() == 8);
  for (const auto& line : results) CHECK(json_int(line, "steps") == 12);

  const std::string html = read_text(out / "report.html");
  std::map<std::string, int> elements;
  REQUIRE(xml_check::check(html, &elements) == "");
  CHECK(elements["table"] == 2);  // the results, and every head's attention statistics
  // header + one row per family; header + one row per attention: BERT's and
  // GPT's one block, T5's encoder, decoder and cross-attention, the
  // Perceiver's latent cross-attention and latent block
  CHECK(elements["tr"] == 1 + 4 + 1 + 7);
  CHECK_THAT(html, Contains("Attention statistics") && Contains("latent/cross_attn") &&
                       Contains("decoder/layers/0/cross_attn"));
  CHECK(elements["svg"] == 1 + 4);  // the curves, one attention map per family
  CHECK(elements["script"] == 0);   // nothing runs ...
  CHECK(elements["link"] == 0);     // ... and nothing is fetched
  CHECK(elements["img"] == 0);
  CHECK(html.find("https://") == std::string::npos);
  CHECK(html.find("src=") == std::string::npos);
  CHECK_THAT(html, Contains("attnlab compare --task brackets"));
  CHECK_THAT(html, Contains("attnlab train --model perceiver --task brackets --steps 12"));
  for (const char* svg : {"curves.svg", "attention-t5-seed1.svg", "attention-perceiver-seed1.svg"})
    CHECK(xml_check::check(read_text(out / svg)) == "");
}

TEST_CASE("compare: translation leaves out the encoder-only families and says why") {
  const fs::path out = fresh_dir("compare_reverse");
  Run r = run(fmt::format("compare --task reverse --models bert,t5 --steps 8 --out {} {}",
                          out.string(), kTinyModels));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("bert: left out") && Contains("cannot write an output sequence"));
  CHECK_THAT(r.output, Contains("held-out exact match"));
  CHECK_FALSE(fs::exists(out / "bert"));
  CHECK(fs::exists(out / "t5" / "metrics.jsonl"));
  CHECK_THAT(read_text(out / "compare.md"), Contains("bert: left out"));

  r = run(fmt::format("compare --task reverse --models bert,perceiver --steps 8 --out {}",
                      (out / "none").string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("no family in --models can do the translation task 'reverse'"));
}

TEST_CASE("compare: --match params gives every family about the first one's parameter count") {
  const fs::path out = fresh_dir("compare_match");
  Run r =
      run(fmt::format("compare --task majority --models gpt,t5,bert --match params --steps 4 "
                      "--out {} {}",
                      out.string(), kTinyModels));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto results = lines_of(read_text(out / "results.jsonl"));
  REQUIRE(results.size() == 3);
  const double target = double(json_int(results[0], "parameters"));
  for (const auto& line : results) {
    INFO(line);
    CHECK(std::abs(double(json_int(line, "parameters")) - target) < 0.1 * target);
  }
  CHECK(json_int(results[1], "d_model") != 16);  // T5's two stacks need a narrower width
  // Without matching, every family has the width asked for.
  const fs::path wide = fresh_dir("compare_width");
  r = run(fmt::format("compare --task majority --models gpt,t5 --steps 4 --out {} {}",
                      wide.string(), kTinyModels));
  REQUIRE(r.exit_code == 0);
  const auto width = lines_of(read_text(wide / "results.jsonl"));
  for (const auto& line : width) CHECK(json_int(line, "d_model") == 16);
}

TEST_CASE("compare: bad options are named") {
  Run r = run("compare --task dates --steps 10 --minutes 1 --out x");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("--steps or --minutes"));
  r = run("compare --task dates --match depth --out x");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("depth"));
  r = run("compare --task dates --models gpt,lstm --out x");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("lstm"));
  r = run("compare --task nosuch --out x");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("nosuch"));
  r = run("compare --task dates --models gpt,t5,gpt --out x");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("gpt is named twice"));
  CHECK_FALSE(fs::exists("x"));  // refused before anything trained
}

TEST_CASE("compare: runs already in --out are refused before any training, --overwrite replaces") {
  const fs::path out = fresh_dir("compare_again");
  const std::string args = fmt::format(
      "compare --task majority --models bert,gpt --steps 3 --out {} {}", out.string(), kTinyModels);
  REQUIRE(run(args).exit_code == 0);
  const std::string before = read_text(out / "gpt" / "metrics.jsonl");
  // A second comparison into the same directory: refused at once, naming the run.
  fs::remove_all(out / "bert");
  Run r = run(args);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains(out.string() + "/gpt already holds a run") &&
                           Contains("--resume") && Contains("--overwrite"));
  CHECK_FALSE(fs::exists(out / "bert"));  // the first family did not train
  CHECK(read_text(out / "gpt" / "metrics.jsonl") == before);
  r = run(args + " --overwrite");
  CHECK(r.exit_code == 0);
  CHECK(fs::exists(out / "bert" / "checkpoint.h5"));
  fs::remove_all(out);
}

TEST_CASE("compare: an interrupted comparison continues with --resume as if never stopped") {
  const fs::path dir = fresh_dir("compare_resume");
  const auto args = [&](const fs::path& out) {
    return fmt::format(
        "compare --task reverse --models gpt,t5 --steps 4000 --eval-every 1000 --out "
        "{} {}",
        out.string(), kTinyModels);
  };
  REQUIRE(run(args(dir / "whole")).exit_code == 0);
  // Stopped while the second family trains: the first one's 4000 steps take
  // minutes under the sanitizers, with another test on the other core.
  const pid_t child = spawn(args(dir / "cut"), dir / "log");
  REQUIRE(wait_until([&] { return training_logged(dir / "cut" / "t5"); }, 600));
  ::kill(child, SIGTERM);
  CHECK(wait_exit(child) == 128 + SIGTERM);
  CHECK_THAT(read_text(dir / "log"), Contains("continue the comparison with the same command and "
                                              "--resume"));
  CHECK(!fs::exists(dir / "cut" / "results.jsonl"));
  const std::string gpt_log = read_text(dir / "cut" / "gpt" / "metrics.jsonl");
  // Other options, or --overwrite with it, are refused before anything runs.
  Run r = run(args(dir / "cut") + " --resume --lr 0.003");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains((dir / "cut" / "gpt").string() + " was trained with lr 0.001"));
  r = run(args(dir / "cut") + " --resume --overwrite");
  CHECK(r.exit_code == 2);
  r = run(args(dir / "cut") + " --resume");
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("finished before: kept as it is"));
  CHECK(read_text(dir / "cut" / "gpt" / "metrics.jsonl") == gpt_log);  // not touched
  // The same scores as the comparison that was never stopped.
  const auto scores = [&](const fs::path& out) {
    std::vector<std::string> rows;
    for (const std::string& line : lines_of(read_text(out / "results.jsonl"))) {
      const auto j = first_json(line);
      rows.push_back(fmt::format("{} {} {} {} {}", j.at("model").get<std::string>(),
                                 j.at("steps").get<int64_t>(), j.at("score").get<double>(),
                                 j.at("token_accuracy").get<double>(),
                                 j.at("train_loss").get<double>()));
    }
    return rows;
  };
  CHECK(scores(dir / "cut") == scores(dir / "whole"));
  CHECK(scores(dir / "cut").size() == 2);
  fs::remove_all(dir);
}

TEST_CASE("compare: runs on the user's own data as on a built-in task") {
  const fs::path dir = fresh_dir("compare_own_data");
  const fs::path tsv = dir / "reviews.tsv";
  {
    std::ofstream out(tsv);
    for (int i = 0; i < 80; ++i)
      out << (i % 2 ? "pos\ta good film " : "neg\ta bad film ") << i << "\n";
  }
  const fs::path out = dir / "cmp";
  Run r = run(fmt::format(
      "compare --train-file {} --task-kind classification --models bert,gpt --steps 20 --out {} {}",
      tsv.string(), out.string(), kTinyModels));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK(lines_of(read_text(out / "results.jsonl")).size() == 2);
  CHECK_THAT(read_text(out / "report.html"),
             Contains("attnlab compare: " + tsv.string() + " (classification)") &&
                 Contains("Your data: " + tsv.string()));
  // Each run's command line trains on the same file.
  CHECK_THAT(read_text(out / "compare.md"),
             Contains("--train-file " + tsv.string() + " --task-kind classification"));
  // And it continues like any comparison.
  r = run(fmt::format(
      "compare --train-file {} --task-kind classification --models bert,gpt --steps 20 --out {} "
      "{} --resume",
      tsv.string(), out.string(), kTinyModels));
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("finished before: kept as it is"));
  // What is missing or contradictory is named before anything trains.
  r = run(fmt::format("compare --train-file {} --out {}", tsv.string(), (dir / "x").string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("--task-kind classification, translation or lm"));
  r = run(fmt::format("compare --task majority --train-file {} --out {}", tsv.string(),
                      (dir / "x").string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("not both"));
  CHECK_FALSE(fs::exists(dir / "x"));
  fs::remove_all(dir);
}

TEST_CASE("compare: --controlled builds every family from the same blocks") {
  const fs::path out = fresh_dir("compare_controlled");
  Run r =
      run(fmt::format("compare --task majority --models bert,t5 --controlled --steps 4 --out {} {}",
                      out.string(), kTinyModels));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("controlled blocks"));
  const std::string html = read_text(out / "report.html");
  for (const char* family : {"bert", "t5"}) {
    // The reproducing train command of each run carries the shared choices.
    const size_t at = html.find(fmt::format("attnlab train --model {} ", family));
    REQUIRE(at != std::string::npos);
    const std::string line = html.substr(at, html.find('\n', at) - at);
    INFO(line);
    for (const char* setting :
         {"--set placement=pre", "--set norm=layernorm", "--set positions=learned",
          "--set activation=gelu", "--set bias=true", "--set embedding_norm=false"})
      CHECK_THAT(line, Contains(setting));
  }
}

TEST_CASE("compare: every family's own objective on the user's text, side by side") {
  const fs::path dir = fresh_dir("compare_text");
  const fs::path text = dir / "text.txt";
  {
    std::ofstream out(text);
    for (int i = 0; i < 60; ++i)
      out << "the cat sat on the mat " << i % 7 << " and the dog sat on the log\n";
  }
  const fs::path out = dir / "cmp";
  const std::string command = fmt::format(
      "compare --train-file {} --task-kind lm --block-size 16 --tokenizer bpe --vocab-size 48 "
      "--steps 20 --out {} {}",
      text.string(), out.string(), kTinyModels);
  Run r = run(command);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("perceiver: left out") && Contains("no objective for plain text"));
  CHECK_THAT(r.output, Contains("bits / char") && Contains("held-out loss / predicted token"));
  // GPT twice (causal and prefix LM), BERT's masked LM and T5's spans, each
  // with its own held-out loss, bits per character and a sample.
  const std::vector<std::string> lines = lines_of(read_text(out / "results.jsonl"));
  REQUIRE(lines.size() == 4);
  std::map<std::string, std::string> objectives;
  for (const std::string& line : lines) {
    const attnlab::Json j = first_json(line);
    objectives[j.at("label")] = j.at("objective");
    CHECK(j.at("bits_per_char").get<double>() > 0);
    CHECK(j.at("loss").get<double>() > 0);
    CHECK_FALSE(j.at("sample").get<std::string>().empty());
  }
  CHECK(objectives == std::map<std::string, std::string>{{"bert", "masked language model"},
                                                         {"gpt", "causal language model"},
                                                         {"gpt-prefix", "prefix language model"},
                                                         {"t5", "span corruption"}});
  CHECK_THAT(read_text(out / "compare.md"), Contains("## Samples") && Contains("gpt-prefix:"));
  const std::string html = read_text(out / "report.html");
  CHECK(xml_check::check(html) == "");
  CHECK_THAT(html, Contains("Samples") && Contains("bits per character") &&
                       Contains("--set prefix_lm=true") && Contains("--block-size 16"));
  // It continues like any comparison, and keeps finished runs' scores.
  r = run(command + " --resume");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("finished before: kept as it is") && Contains("bits / char"));
  r = run(fmt::format("compare --train-file {} --task-kind classification --block-size 16 --out {}",
                      text.string(), (dir / "x").string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("--block-size") && Contains("--task-kind lm"));
  fs::remove_all(dir);
}

TEST_CASE("compare: --finetune-on fine-tunes every pretrained model beside one from scratch") {
  const fs::path dir = fresh_dir("compare_finetune");
  const fs::path text = dir / "text.txt", tsv = dir / "lines.tsv";
  {
    std::ofstream out(text), lines(tsv);
    for (int i = 0; i < 60; ++i)
      out << "the cat sat on the mat " << i % 7 << " and the dog sat on the log\n";
    for (int i = 0; i < 60; ++i)
      lines << (i % 2 ? "cat\tthe cat sat " : "dog\tthe dog ran ") << i << "\n";
  }
  const fs::path out = dir / "cmp";
  const std::string command = fmt::format(
      "compare --train-file {} --task-kind lm --block-size 24 --models gpt,bert --steps 12 "
      "--finetune-on {} --finetune-steps 10 --out {} {}",
      text.string(), tsv.string(), out.string(), kTinyModels);
  Run r = run(command);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("Fine-tuned on " + tsv.string() + " (classification)") &&
                           Contains("from scratch: accuracy %") && Contains("gain (points)"));
  // 3 compared runs (gpt, gpt-prefix, bert), and for each a fine-tuned and a scratch run.
  const std::vector<std::string> lines = lines_of(read_text(out / "results.jsonl"));
  REQUIRE(lines.size() == 9);
  size_t finetuned = 0, scratch = 0;
  for (const std::string& line : lines) {
    const attnlab::Json j = first_json(line);
    if (!j.contains("stage")) continue;
    const std::string dir_name = j.at("dir");
    if (j.at("stage") == "finetuned") {
      ++finetuned;
      // It started from its compared run's best model, and stored where from.
      const std::string pretrained = dir_name.substr(0, dir_name.find("-finetuned"));
      CHECK(j.at("init_from") == fs::absolute(out / pretrained / "best.h5").string());
      CHECK_THAT(read_text(out / dir_name / "metrics.jsonl"), Contains("\"accuracy\""));
    } else {
      ++scratch;
      CHECK_FALSE(j.contains("init_from"));
    }
  }
  CHECK(finetuned == 3);
  CHECK(scratch == 3);
  CHECK_THAT(read_text(out / "compare.md"), Contains("## Fine-tuned on"));
  CHECK(xml_check::check(read_text(out / "report.html")) == "");
  // It continues like any comparison.
  r = run(command + " --resume");
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("gain (points)"));
  // A task row longer than the pretrained rows is refused once the
  // comparison has trained, naming what to change; its runs are kept.
  r = run(
      fmt::format("compare --train-file {} --task-kind lm --block-size 8 --models gpt --steps 4 "
                  "--finetune-on {} --finetune-steps 4 --out {} {}",
                  text.string(), tsv.string(), (dir / "short").string(), kTinyModels));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("fine-tuning run gpt-") && Contains("lines.tsv:1") &&
                           Contains("--block-size 8") && Contains("--resume"));
  CHECK(fs::exists(dir / "short" / "gpt" / "best.h5"));
  // The fine-tuning options go together, and with a task to fine-tune on.
  for (const auto& [options, message] :
       {std::pair{"--finetune-steps 5", "--finetune-steps goes with --finetune-on"},
        std::pair{"--finetune-on missing.tsv", "missing.tsv: no such file"},
        std::pair{"--finetune-on lines.tsv --finetune-kind lm", "fine-tuning is on a task"}}) {
    r = run(fmt::format("compare --train-file {} --task-kind lm --out {} {}", text.string(),
                        (dir / "x").string(), options));
    INFO(options);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains(message));
  }
  CHECK_FALSE(fs::exists(dir / "x"));
  fs::remove_all(dir);
}

TEST_CASE("compare: the report draws attention on the reference pair, teacher-forced") {
  const fs::path out = fresh_dir("compare_reference");
  Run r = run(fmt::format("compare --task reverse --models gpt,t5 --steps 8 --out {} {}",
                          out.string(), kTinyModels));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(read_text(out / "report.html"), Contains("on its reference pair"));
  // After 8 steps neither model can reverse; their pictures still read the
  // expected output, one row per token of it.
  const attnlab::data::Example pair{"abcdef", "fedcba"};
  for (const char* family : {"gpt", "t5"}) {
    INFO(family);
    attnlab::LoadedRun run = attnlab::load_run((out / family).string());
    CHECK(run.framing->predict({pair.source})[0].text != pair.target);
    const attnlab::Trace trace = run.framing->trace_reference(pair);
    CHECK(trace.output == pair.target);
    const std::vector<std::string> expected =
        std::string(family) == "t5"
            ? std::vector<std::string>{"<bos>", "f", "e", "d", "c", "b", "a"}
            : std::vector<std::string>{"<bos>", "a", "b", "c", "d", "e", "f",
                                       "<sep>", "f", "e", "d", "c", "b", "a"};
    const auto& [axis, tokens] = trace.axes.back();
    CHECK(tokens == expected);
    CHECK(trace.maps.back().weights.size(1) == int64_t(expected.size()));
  }
}
