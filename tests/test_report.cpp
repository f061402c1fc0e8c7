// Pictures: the SVG writer, charts, curves from metrics.jsonl, attnlab plot.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "cli_process.h"
#include "io/hdf5.h"
#include "report/attention_picture.h"
#include "report/chart.h"
#include "report/curves.h"
#include "report/grid.h"
#include "report/heatmap.h"
#include "report/html.h"
#include "xml_check.h"

using namespace cli_test;
using Catch::Matchers::Contains;

TEST_CASE("report: the checker itself catches broken XML") {
  CHECK(xml_check::check("<svg><rect x=\"1\"/></svg>").empty());
  CHECK_THAT(xml_check::check("<svg><g></svg>"), Contains("does not close"));
  CHECK_THAT(xml_check::check("<svg><rect x=1/></svg>"), Contains("unquoted attribute"));
  CHECK_THAT(xml_check::check("<svg>a & b</svg>"), Contains("bad entity"));
  CHECK_THAT(xml_check::check("<svg/><svg/>"), Contains("one root"));
}

TEST_CASE("report: charts are valid SVG with a line per series, escaped text and a legend") {
  attnlab::report::Panel a{"loss <train>", "step", "loss", {}};
  a.series.push_back({"run \"a\" & b", {{0, 3}, {10, 2}, {20, 1}}, 0, false});
  a.series.push_back({"run c", {{0, 2.5}, {20, 1.5}}, 1, true});
  attnlab::report::Panel empty{"nothing yet", "step", "score", {}};
  const std::string svg = attnlab::report::line_charts({a, empty}).str();
  std::map<std::string, int> elements;
  REQUIRE(xml_check::check(svg, &elements).empty());
  CHECK(elements["svg"] == 1);
  CHECK(elements["polyline"] == 2);
  CHECK(elements["circle"] == 2);  // markers on the sparse series
  CHECK_THAT(svg, Contains("loss &lt;train&gt;") && Contains("run &quot;a&quot; &amp; b") &&
                      Contains(">no data<"));
}

TEST_CASE("report: nice ticks are round and cover the range") {
  const auto ticks = attnlab::report::nice_ticks(0, 1, 5);
  REQUIRE(ticks.size() == 6);
  for (size_t i = 0; i < ticks.size(); ++i) CHECK(ticks[i] == Approx(0.2 * double(i)));
  CHECK(attnlab::report::nice_ticks(0, 3000, 5) == std::vector<double>{0, 1000, 2000, 3000});
  for (double t : attnlab::report::nice_ticks(0.31, 0.52, 4)) {  // inside the range, round
    CHECK(t >= 0.31);
    CHECK(t <= 0.52);
    CHECK(std::abs(t * 10 - std::round(t * 10)) < 1e-9);
  }
  CHECK(attnlab::report::tick_label(0.25) == "0.25");
  CHECK(attnlab::report::tick_label(1500) == "1500");
}

TEST_CASE("report: curves drop what a resumed run repeated and report a torn line") {
  fs::path dir = fresh_dir("curves");
  fs::create_directories(dir / "run");
  {
    std::ofstream f(dir / "run" / "metrics.jsonl");
    f << R"({"step": 5, "split": "train", "loss": 2.0, "elapsed_s": 1.0})"
      << "\n"
      << R"({"step": 5, "split": "valid", "examples": 9, "loss": 2.5, "accuracy": 0.5, "macro_f1": 0.4, "elapsed_s": 1.5})"
      << "\n"
      << R"({"step": 10, "split": "train", "loss": 1.5, "elapsed_s": 2.0})"
      << "\n"
      << R"({"event": "resume", "step": 5, "steps": 20})"
      << "\n"
      << R"({"step": 10, "split": "train", "loss": 1.4, "elapsed_s": 2.1})"
      << "\n"
      << R"({"step": 15, "split": "tr)";
  }
  const auto run = attnlab::report::read_curves((dir / "run" / "metrics.jsonl").string());
  CHECK(run.name == "run");
  REQUIRE(run.train_loss.size() == 2);
  CHECK(run.train_loss[1].value == 1.4);  // the resumed run's step 10, not the lost one
  CHECK(run.score_name == "accuracy");
  REQUIRE(run.valid_score.size() == 1);
  CHECK(run.valid_score[0].value == 0.5);
  REQUIRE(run.warnings.size() == 1);
  CHECK_THAT(run.warnings[0], Contains("metrics.jsonl:6") && Contains("cut off"));
  fs::remove_all(dir);
}

TEST_CASE("cli: plot draws several runs on one chart, by step or by time") {
  fs::path dir = fresh_dir("plot");
  for (const char* name : {"small", "wide"})
    REQUIRE(run(fmt::format("train --model gpt --task reverse --steps 20 --eval-every 10 "
                            "--log-every 5 --out {} {}",
                            (dir / name).string(), kTiny))
                .exit_code == 0);
  // A missing directory is not made: it is named.
  Run missing = run(fmt::format("plot --metrics {} --out {}", (dir / "small").string(),
                                (dir / "charts" / "c.svg").string()));
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.output, Contains("charts' does not exist"));
  CHECK_FALSE(fs::exists(dir / "charts"));
  Run r = run(fmt::format("plot --metrics {} {} --out {}", (dir / "small").string(),
                          (dir / "wide" / "metrics.jsonl").string(), (dir / "c.svg").string()));
  CHECK(r.exit_code == 0);
  const std::string svg = read_text(dir / "c.svg");
  std::map<std::string, int> elements;
  REQUIRE(xml_check::check(svg, &elements).empty());
  CHECK(elements["polyline"] == 6);  // 2 runs x (training loss, held-out loss, exact match)
  CHECK_THAT(svg, Contains(">small<") && Contains(">wide<") && Contains("held-out exact_match"));
  r = run(fmt::format("plot --metrics {} --x time --out {}", (dir / "small").string(),
                      (dir / "t.svg").string()));
  CHECK(r.exit_code == 0);
  r = run(fmt::format("plot --metrics {} --out {}", (dir / "nowhere").string(),
                      (dir / "x.svg").string()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.output, Contains("nowhere") && Contains("no such file"));
  fs::remove_all(dir);
}

TEST_CASE("report: attention heatmaps have a cell per query and key, labels and a legend") {
  const std::vector<std::string> queries = {"<bos>", "2", "0", "2", "1"};
  const std::vector<std::string> keys = {"M", "a", "r", "c",    "h",    " ",
                                         "3", ",", " ", "2021", "<eos>"};
  std::vector<attnlab::report::HeatmapPanel> panels;
  for (int h = 0; h < 2; ++h) {
    attnlab::report::HeatmapPanel p{fmt::format("head {}", h), {}};
    for (size_t r = 0; r < queries.size(); ++r)
      for (size_t c = 0; c < keys.size(); ++c)
        p.values.push_back(c == (r * 2 + size_t(h)) % keys.size() ? 0.9 : 0.01);
    panels.push_back(p);
  }
  const auto svg =
      attnlab::report::attention_heatmaps("cross-attention, layer 0 <T5>", panels, queries, keys);
  const std::string text = svg.str();
  if (const char* keep = std::getenv("ATTNLAB_KEEP_PICTURES"))
    svg.save(std::string(keep) + "/heatmap.svg");
  std::map<std::string, int> elements;
  REQUIRE(xml_check::check(text, &elements).empty());
  // cells, one frame per panel, the legend's 50 swatches and its frame, the background
  CHECK(elements["rect"] == 2 * 5 * 11 + 2 + 50 + 1 + 1);
  CHECK(elements["title"] == 2 * 5 * 11);  // each cell's value on hover
  CHECK_THAT(text, Contains("&lt;bos&gt;") && Contains("layer 0 &lt;T5&gt;") &&
                       Contains(">head 1<") && Contains("attention weight"));
  CHECK(attnlab::report::heat_colour(0) == "#ffffff");
  CHECK(attnlab::report::heat_colour(1) == "#08306b");
  CHECK_THROWS_WITH(attnlab::report::attention_heatmaps("x", {{"bad", {0.5}}}, queries, keys),
                    Contains("1 values for 5 x 11 tokens"));
}

TEST_CASE("cli: trace records every attention of every family, rows summing to 1, and draws them") {
  fs::path dir = fresh_dir("trace");
  struct Case {
    const char* model;
    const char* task;
    std::vector<std::string> maps;  // attention names the trace must hold
    std::vector<std::string> axes;
  };
  const std::vector<Case> cases = {
      {"t5",
       "reverse",
       {"encoder/layers/0/self_attn", "decoder/layers/0/self_attn", "decoder/layers/0/cross_attn"},
       {"input", "decoder"}},
      {"gpt", "reverse", {"decoder/layers/0/self_attn"}, {"sequence"}},
      {"bert", "sentiment", {"encoder/layers/0/self_attn"}, {"input"}},
      {"perceiver",
       "sentiment",
       {"latent/cross_attn", "latent/layers/0/self_attn"},
       {"input", "latents"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.model);
    const fs::path run_dir = dir / c.model;
    REQUIRE(run(fmt::format("train --model {} --task {} --steps 2 --out {} {}", c.model, c.task,
                            run_dir.string(), kTiny))
                .exit_code == 0);
    const fs::path out = dir / (std::string(c.model) + ".h5"),
                   svg = dir / (std::string(c.model) + "_svg");
    Run r = run(fmt::format("trace --ckpt {} --input \"a good film\" --out {} --svg {}",
                            run_dir.string(), out.string(), svg.string()));
    REQUIRE(r.exit_code == 0);
    attnlab::H5File f = attnlab::H5File::open_read(out.string());
    CHECK(f.get_attribute("/", "format") == "attnlab-trace");
    for (const std::string& axis : c.axes)
      CHECK(!attnlab::read_string_list(f, "tokens/" + axis).empty());
    for (const std::string& name : c.maps) {
      CAPTURE(name);
      const auto w = f.read<float>("attention/" + name + "/weights");
      REQUIRE(w.shape.size() == 3);
      const int64_t tk = w.shape[2];
      // Every query row of every head is a distribution over the keys.
      for (int64_t row = 0; row < w.shape[0] * w.shape[1]; ++row) {
        double total = 0;
        for (int64_t k = 0; k < tk; ++k) total += w.values[size_t(row * tk + k)];
        CHECK(total == Approx(1.0).margin(1e-4));
      }
      for (double e : f.read<double>("attention/" + name + "/entropy").values) {
        CHECK(e >= 0);
        CHECK(e <= std::log(double(tk)) + 1e-9);
      }
      std::string file = name;
      std::replace(file.begin(), file.end(), '/', '_');
      CHECK(xml_check::check(read_text(svg / (file + ".svg"))).empty());
    }
  }
  fs::remove_all(dir);
}

TEST_CASE("report: an HTML page escapes its text, inlines its pictures and is well-formed") {
  attnlab::report::HtmlPage page("a <b> & c");
  page.paragraph("x < y & \"z\"");
  page.table({"model", "score"}, {{"gpt <1>", "97.5"}, {"t5", "-"}});
  attnlab::report::Svg svg(40, 20);
  svg.text(5, 15, "label & more");
  page.figure(svg.str(), "caption <i>");
  page.code_block("attnlab compare --task 'dates' > out");
  const std::string html = page.str();
  std::map<std::string, int> elements;
  REQUIRE(xml_check::check(html, &elements) == "");
  CHECK(elements["table"] == 1);
  CHECK(elements["tr"] == 3);
  CHECK(elements["svg"] == 1);
  CHECK(elements["script"] == 0);
  CHECK(html.find("<b>") == std::string::npos);  // the title's text was escaped
  CHECK(html.find("x &lt; y &amp; &quot;z&quot;") != std::string::npos);
  CHECK(html.find("<td class=\"num\">97.5</td>") != std::string::npos);  // numbers align right
  CHECK(html.find("<td>gpt &lt;1&gt;</td>") != std::string::npos);
}

TEST_CASE("report: grid heatmaps colour signed changes and refuse a grid of the wrong size") {
  using attnlab::report::ColourScale;
  using attnlab::report::scale_colour;
  const ColourScale signed_scale{-2, 2, true, "change"};
  CHECK(scale_colour(0, signed_scale) == "#ffffff");
  CHECK(scale_colour(-2, signed_scale) == "#b2182b");   // worst: full red
  CHECK(scale_colour(2, signed_scale) == "#2166ac");    // best: full blue
  CHECK(scale_colour(NAN, signed_scale) == "#d9d9d9");  // no value: grey
  attnlab::report::GridPanel panel{
      "cross", {"0", "1"}, {"0", "1", "2"}, "block", "head", {1, 0, -1, 2, NAN, -2}, {}};
  const std::string svg = attnlab::report::grid_heatmaps("t", {panel}, signed_scale).str();
  CHECK(xml_check::check(svg) == "");
  CHECK(svg.find("block 1, head 2: -2") != std::string::npos);
  CHECK(svg.find("block 1, head 1: none") != std::string::npos);
  // A long legend widens the picture instead of running off its right edge.
  const ColourScale long_legend{-2, 2, true, std::string(120, 'x')};
  const std::string wide = attnlab::report::grid_heatmaps("t", {panel}, long_legend).str();
  const size_t at = wide.find("width=\"") + 7;
  CHECK(std::stod(wide.substr(at)) >=
        20 + 200 + 12 + attnlab::report::label_width(long_legend.legend, 11));
  panel.values.pop_back();
  CHECK_THROWS_WITH(attnlab::report::grid_heatmaps("t", {panel}, signed_scale),
                    Catch::Matchers::Contains("grid 'cross': 5 values"));
}

TEST_CASE("report: an attention picture caps its queries and keys and says so") {
  attnlab::Trace trace;
  trace.input = "long";
  std::vector<std::string> tokens;
  for (int i = 0; i < 60; ++i) tokens.push_back(fmt::format("t{}", i));
  trace.axes.push_back({"sequence", tokens});
  attnlab::TraceMap map{"decoder/layers/0/self_attn", "causal self", "sequence", "sequence",
                        attnlab::Tensor::full({2, 60, 60}, 1.0 / 60)};
  const std::string capped = attnlab::report::attention_picture(trace, map, true, 48).str();
  CHECK(xml_check::check(capped) == "");
  CHECK_THAT(capped, Contains("first 48 of 60 queries, 48 of 60 keys"));
  CHECK_THAT(capped, Contains(">t47<"));
  CHECK(capped.find(">t48<") == std::string::npos);
  const std::string whole = attnlab::report::attention_picture(trace, map, true).str();
  CHECK_THAT(whole, Contains(">t59<"));
  CHECK(whole.find("of 60 queries") == std::string::npos);
}
