// Grids in `attnlab compare`: the cells a list of options spans, each
// family's best cell chosen on held-out data, the cost listing and
// --dry-run, and a sweep that resumes to the same results.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "cli_process.h"
#include "study/compare.h"
#include "xml_check.h"

using Catch::Matchers::Contains;
using namespace cli_test;
namespace fs = std::filesystem;
using attnlab::Json;
using attnlab::study::GridAxis;
using attnlab::study::GridCell;
using attnlab::study::RunRecord;

namespace {

// A finished run of `label` in `cell` with a held-out score and loss.
RunRecord made_run(const std::string& label, const GridCell& cell, double score, double loss,
                   bool text = false) {
  RunRecord r;
  r.plan.label = label;
  r.plan.cell = cell;
  r.result.final_metrics.exact_match = score;
  r.result.final_metrics.loss = loss;
  r.result.final_metrics.language_model = text;
  return r;
}

const char* kTinyGrid = "--models bert,gpt --heads 2 --d-ff 32 --batch-size 16 --quiet";

// The lines of results.jsonl without what depends on the machine's speed.
std::vector<Json> untimed_results(const fs::path& out) {
  std::vector<Json> lines = json_lines(read_text(out / "results.jsonl"));
  for (Json& j : lines)
    for (const char* key : {"seconds", "tokens_per_s", "inference_ms_per_example"}) j.erase(key);
  return lines;
}

}  // namespace

TEST_CASE("sweep: the cells of a grid, named and ordered, the first axis slowest") {
  const std::vector<GridCell> cells = attnlab::study::grid_cells(
      {GridAxis{"d-model", {"32", "64"}}, GridAxis{"lr", {"3e-4", "1e-3", "3e-3"}}});
  REQUIRE(cells.size() == 6);
  CHECK(cells[0].name() == "d32-lr3e-4");
  CHECK(cells[2].name() == "d32-lr3e-3");
  CHECK(cells[3].name() == "d64-lr3e-4");
  CHECK(cells[5].options() == "--d-model 64 --lr 3e-3");
  CHECK(cells[4].value("lr") == "1e-3");
  CHECK(cells[4].value("dropout") == "");
  CHECK(cells[4].json() == Json{{"d_model", 64}, {"lr", 0.001}});
  // No axes: one cell, which names nothing.
  const std::vector<GridCell> one = attnlab::study::grid_cells({});
  REQUIRE(one.size() == 1);
  CHECK(one[0].name().empty());
}

TEST_CASE("sweep: each label's best cell is the best mean over its seeds") {
  const auto cells = attnlab::study::grid_cells({GridAxis{"lr", {"1e-3", "3e-3"}}});
  // gpt: one seed of lr 1e-3 is the best single run, but lr 3e-3 is better
  // on average; t5: the scores tie and the lower loss wins.
  const std::vector<RunRecord> runs = {
      made_run("gpt", cells[0], 0.90, 0.5), made_run("gpt", cells[0], 0.30, 0.9),
      made_run("gpt", cells[1], 0.70, 0.6), made_run("gpt", cells[1], 0.80, 0.6),
      made_run("t5", cells[0], 0.50, 0.4),  made_run("t5", cells[1], 0.50, 0.3)};
  const auto best = attnlab::study::best_cells(runs);
  REQUIRE(best.size() == 2);
  CHECK(best[0] == std::pair<std::string, std::string>{"gpt", "lr3e-3"});
  CHECK(best[1] == std::pair<std::string, std::string>{"t5", "lr3e-3"});
  CHECK(attnlab::study::runs_of_best_cells(runs).size() == 3);
  // A text's objective is chosen on its held-out loss alone.
  const std::vector<RunRecord> text = {made_run("gpt", cells[0], 0, 1.2, true),
                                       made_run("gpt", cells[1], 0, 1.4, true)};
  CHECK(attnlab::study::best_cells(text)[0].second == "lr1e-3");
}

TEST_CASE("sweep: compare runs the grid for every family and reports each at its best") {
  const fs::path out = fresh_dir("sweep_grid");
  Run r = run(fmt::format(
      "compare --task brackets {} --layers 1 --steps 30 --lr 1e-3,3e-3 --d-model 16,32 --seeds 2 "
      "--out {}",
      kTinyGrid, out.string()));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  // Listed with their costs before any trains.
  CHECK_THAT(r.output, Contains("| gpt-d32-lr3e-3-seed2 ") && Contains("all 16 runs") &&
                           Contains("estimated"));
  CHECK(r.output.find("estimated") < r.output.find("== run 1/16"));
  const std::vector<Json> results = json_lines(read_text(out / "results.jsonl"));
  REQUIRE(results.size() == 16);
  // The best cell of each model, worked out here from results.jsonl alone.
  // (score, loss) of each seed, per model and cell.
  std::map<std::string, std::map<std::string, std::vector<std::pair<double, double>>>> scores;
  std::map<std::string, std::set<std::string>> marked;
  for (const Json& j : results) {
    const std::string label = j.at("label"), cell = j.at("cell");
    CHECK(j.at("settings").at("d_model") == j.at("d_model"));
    CHECK(j.at("steps") == 30);
    CHECK(j.at("training_flops").get<double>() > 0);
    CHECK(fs::exists(out / j.at("dir").get<std::string>() / "best.h5"));
    scores[label][cell].push_back({j.at("score").get<double>(), j.at("loss").get<double>()});
    if (j.at("best").get<bool>()) marked[label].insert(cell);
  }
  REQUIRE(scores.size() == 2);
  std::map<std::string, std::string> chosen;  // label -> its best cell
  for (const auto& [label, cells] : scores) {
    INFO(label);
    REQUIRE(cells.size() == 4);
    // Cells in grid order: d16-lr1e-3, d16-lr3e-3, d32-lr1e-3, d32-lr3e-3
    // (also the map's order); the higher mean score wins, then the lower loss.
    std::string best;
    double best_score = -1, best_loss = 0;
    for (const auto& [cell, seeds] : cells) {
      const double score = (seeds[0].first + seeds[1].first) / 2;
      const double loss = (seeds[0].second + seeds[1].second) / 2;
      if (best.empty() || score > best_score || (score == best_score && loss < best_loss))
        best = cell, best_score = score, best_loss = loss;
    }
    CHECK(marked[label] == std::set<std::string>{best});
    chosen[label] = best;
  }
  // The grid's bigger models cost more.
  double flops_16 = 0, flops_32 = 0;
  for (const Json& j : results)
    if (j.at("label") == "gpt")
      (j.at("d_model") == 16 ? flops_16 : flops_32) = j.at("training_flops");
  CHECK(flops_32 > 2 * flops_16);
  const std::string md = read_text(out / "compare.md");
  REQUIRE_THAT(md, Contains("best setting") && Contains("## The grid"));
  // The results table names each model's best setting.
  const std::string best_table = md.substr(0, md.find("## The grid"));
  for (const auto& [label, cell] : chosen) {
    const std::string d = cell.substr(1, cell.find('-') - 1), lr = cell.substr(cell.find("lr") + 2);
    CHECK_THAT(best_table, Contains(fmt::format("--d-model {} --lr {}", d, lr)));
  }
  const std::string html = read_text(out / "report.html");
  REQUIRE(xml_check::check(html) == "");
  CHECK_THAT(html, Contains("The grid") && Contains("best setting") &&
                       Contains("over a grid of 4 settings"));
  fs::remove_all(out);
}

TEST_CASE("sweep: --dry-run lists every run and its cost, and trains nothing") {
  const fs::path out = fresh_dir("sweep_dry");
  Run r = run(
      fmt::format("compare --task dates {} --layers 1 --lr 3e-4,1e-3,3e-3 --steps 50,100 --dry-run "
                  "--out {}",
                  kTinyGrid, out.string()));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("bert: left out"));  // dates is translation
  CHECK_THAT(r.output, Contains("| gpt-s50-lr3e-4 ") && Contains("| gpt-s100-lr3e-3 ") &&
                           Contains("all 6 runs") && Contains("--dry-run: nothing trained"));
  CHECK(r.output.find("== run") == std::string::npos);
  CHECK((!fs::exists(out) || fs::is_empty(out)));
  // Without a grid, --dry-run lists the one setting.
  r = run(fmt::format("compare --task dates {} --layers 1 --dry-run --out {}", kTinyGrid,
                      out.string()));
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("| gpt ") && Contains("all 1 runs"));
  // On a text, each objective's model is costed, BERT's masked-LM head too.
  r = run(fmt::format("compare --task counting {} --layers 1 --d-model 16,32 --dry-run --out {}",
                      kTinyGrid, out.string()));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output,
             Contains("| bert-d32 ") && Contains("| gpt-prefix-d16 ") && Contains("all 6 runs"));
  fs::remove_all(out);
}

TEST_CASE("sweep: bad grids are named before anything runs") {
  const fs::path out = fresh_dir("sweep_bad");
  const std::string base =
      fmt::format("compare --task brackets {} --out {}", kTinyGrid, out.string());
  for (const auto& [options, message] : std::vector<std::pair<std::string, std::string>>{
           {"--lr 1e-3,fast", "--lr 1e-3,fast: 'fast' is not a number"},
           {"--lr 1e-3,1e-3", "'1e-3' is given twice"},
           {"--lr 1e-3,", "expected a value or a comma list"},
           {"--lr 1e-3,-1", "'-1' must be positive"},
           {"--d-model 16,24.5", "'24.5' is not a whole number"},
           {"--dropout 0.1,1", "'1' must be in [0, 1)"},
           {"--d-model 16,32 --set d_model=64", "give the values once"},
           {"--layers 1,2 --decoder-layers 1", "leave out --decoder-layers"},
           {"--lr 1e-3,3e-3 --finetune-on x.tsv", "not a grid"},
       }) {
    INFO(options);
    const Run r = run(base + " " + options);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains(message));
  }
  CHECK((!fs::exists(out) || fs::is_empty(out)));
}

TEST_CASE("sweep: a grid's --minutes is shared by its runs") {
  const fs::path out = fresh_dir("sweep_minutes");
  const Run r =
      run(fmt::format("compare --task brackets --models gpt --heads 2 --d-ff 32 "
                      "--layers 1 --batch-size 16 --quiet --lr 1e-3,3e-3 --minutes 1 "
                      "--dry-run --out {}",
                      out.string()));
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("| 0.5 min |") && Contains("all 2 runs"));
  fs::remove_all(out);
}

TEST_CASE("sweep: an interrupted sweep resumes to the same results as one never stopped") {
  const fs::path dir = fresh_dir("sweep_resume");
  const auto args = [&](const fs::path& out) {
    return fmt::format(
        "compare --task reverse --models gpt --lr 1e-3,3e-3 --steps 3000 --eval-every 1000 "
        "--d-model 16 --heads 2 --d-ff 32 --layers 1 --batch-size 16 --quiet --out {}",
        out.string());
  };
  REQUIRE(run(args(dir / "whole")).exit_code == 0);
  // Stopped in the second cell, after the first one finished.
  const pid_t child = spawn(args(dir / "cut"), dir / "log");
  REQUIRE(wait_until([&] { return training_logged(dir / "cut" / "gpt-lr3e-3"); }, 600));
  ::kill(child, SIGTERM);
  CHECK(wait_exit(child) == 128 + SIGTERM);
  CHECK(!fs::exists(dir / "cut" / "results.jsonl"));
  const Run r = run(args(dir / "cut") + " --resume");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("finished before: kept as it is"));
  // The interrupted cell continued from its checkpoint, not from scratch.
  CHECK_THAT(read_text(dir / "cut" / "gpt-lr3e-3" / "metrics.jsonl"),
             Contains("\"event\": \"resume\""));
  const std::vector<Json> whole = untimed_results(dir / "whole"),
                          cut = untimed_results(dir / "cut");
  CHECK(whole.size() == 2);
  CHECK(cut == whole);
  fs::remove_all(dir);
}

TEST_CASE("sweep: a text run's training FLOPs count its blocks, as its listing does") {
  // Rows of a text are blocks of --block-size tokens, not its held-out lines.
  const fs::path out = fresh_dir("sweep_text_flops");
  const std::string options = fmt::format(
      "compare --task counting --models gpt --heads 2 --d-ff 32 --layers 1 --d-model 16 "
      "--batch-size 4 --steps 3 --block-size 32 --out {}",
      out.string());
  const Run r = run(options + " --dry-run");
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  REQUIRE(run(options + " --quiet").exit_code == 0);
  const std::vector<Json> results = json_lines(read_text(out / "results.jsonl"));
  REQUIRE(results.size() == 2);  // gpt and gpt-prefix
  for (const Json& j : results) {
    const std::string name = j.at("dir");
    INFO(name);
    // The listing's row: | run | model | setting | steps | params | train FLOPs | ...
    const size_t at = r.output.find("| " + name + " ", r.output.find("| run "));
    REQUIRE(at != std::string::npos);
    std::vector<std::string> cells;
    std::stringstream row(r.output.substr(at + 1, r.output.find('\n', at) - at - 1));
    for (std::string cell; std::getline(row, cell, '|');) cells.push_back(cell);
    REQUIRE(cells.size() > 5);
    const std::string listed = cells[5].substr(cells[5].find_first_not_of(' '));
    const double scale = listed.find('G') != std::string::npos ? 1e9 : 1e6;
    CHECK_THAT(j.at("training_flops").get<double>(),
               Catch::Matchers::WithinRel(std::stod(listed) * scale, 0.01));
  }
  fs::remove_all(out);
}

TEST_CASE("sweep: --match flops gives every family the first one's training FLOPs") {
  const fs::path out = fresh_dir("sweep_flops");
  // The listing shows each run's steps and FLOPs: by steps, the FLOPs agree
  // to a step's worth; by width, the steps stay and d_model moves.
  const auto listing = [&](const std::string& match) {
    const Run r =
        run(fmt::format("compare --task dates --models gpt,t5 --heads 2 --d-ff 64 "
                        "--layers 1 --batch-size 16 --steps 300 --lr 1e-3,3e-3 "
                        "--match {} --dry-run --out {}",
                        match, out.string()));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    return r.output;
  };
  for (const std::string match : {"flops", "flops-width"}) {
    INFO(match);
    const std::string text = listing(match);
    // Row cells: run, model, setting, steps, params, train FLOPs, ...
    std::map<std::string, std::vector<std::string>> rows;
    std::stringstream in(text);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("| gpt-", 0) != 0 && line.rfind("| t5-", 0) != 0) continue;
      std::vector<std::string> cells;
      std::stringstream row(line.substr(1));
      for (std::string cell; std::getline(row, cell, '|');)
        cells.push_back(cell.substr(cell.find_first_not_of(' '),
                                    cell.find_last_not_of(' ') - cell.find_first_not_of(' ') + 1));
      rows[cells[0]] = cells;
    }
    REQUIRE(rows.size() == 4);
    const auto flops = [](const std::string& si) {  // "1.82 T" -> 1.82e12
      const double scale = si.back() == 'T' ? 1e12 : si.back() == 'G' ? 1e9 : 1e6;
      return std::stod(si) * scale;
    };
    for (const char* lr : {"lr1e-3", "lr3e-3"}) {
      const auto& gpt = rows.at(std::string("gpt-") + lr);
      const auto& t5 = rows.at(std::string("t5-") + lr);
      CHECK(gpt[3] == "300");  // the first family keeps its budget
      CHECK_THAT(flops(t5[5]), Catch::Matchers::WithinRel(flops(gpt[5]), 0.05));
      if (match == "flops") {
        CHECK(t5[3] != "300");
        CHECK(t5[4] == rows.at("t5-lr1e-3")[4]);  // the same model
      } else {
        CHECK(t5[3] == "300");
        CHECK(t5[4] != gpt[4]);  // another width
      }
    }
  }
  const Run r =
      run(fmt::format("compare --task dates --models gpt,t5 --minutes 1 --match flops "
                      "--out {}",
                      out.string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("it goes with --steps, not --minutes"));
  fs::remove_all(out);
}
