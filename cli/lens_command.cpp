// `attnlab lens`: the logit lens of a GPT or of T5's decoder on one input, as
// a table, JSON lines or an SVG. The lens itself is study/lens.h.
#include <fmt/format.h>

#include "cli/cli_common.h"
#include "cli/commands.h"
#include "common/json.h"
#include "study/lens.h"
#include "study/loaded_run.h"
#include "train/output_file.h"

namespace attnlab {

int lens_command(int argc, char** argv) {
  namespace po = cli::po;
  po::options_description options("lens options");
  std::string ckpt, input, svg, format;
  int64_t top = 5, positions = 48;
  options.add_options()                                                                 //
      ("ckpt", po::value(&ckpt)->required(), "checkpoint file, or a run directory")     //
      ("input", po::value(&input)->required(), "the text to run")                       //
      ("svg", po::value(&svg), "also draw blocks x positions as an SVG file")           //
      ("top", po::value(&top)->default_value(top), "most likely tokens kept per cell")  //
      ("positions", po::value(&positions)->default_value(positions),
       "show at most the last N positions (0 = all)")  //
      ("format", po::value(&format)->default_value("text"),
       "text: a table; jsonl: one JSON object per block and position");
  po::variables_map vm;
  if (!cli::parse_options(
          "lens",
          "The logit lens: after every decoder block, the final norm and the LM head applied to "
          "the hidden state, giving each position's most likely tokens and the probability of "
          "the token the model finally predicts there (GPT, and T5's decoder).\n"
          "Example: attnlab lens --ckpt runs/dates-gpt --input \"March 3, 2021\" --svg lens.svg",
          argc, argv, options, vm))
    return cli::kExitOk;
  if (top < 1) throw cli::UsageError("--top must be at least 1");
  if (positions < 0) throw cli::UsageError("--positions must be >= 0");
  if (format != "text" && format != "jsonl")
    throw cli::UsageError(fmt::format("--format {}: give text or jsonl", format));
  LoadedRun run = load_run(ckpt);
  if (!svg.empty()) check_output_path(svg, "--svg", {run.file});
  study::LogitLens lens;
  try {
    lens = study::logit_lens(*run.framing, *run.vocab, input, top);
  } catch (const std::invalid_argument& e) {
    throw cli::UsageError(fmt::format("--ckpt {}: {}", run.file, e.what()));
  }
  const study::ShownPositions shown = study::shown_positions(lens.tokens.size(), size_t(positions));
  if (!svg.empty())
    study::lens_picture(lens, shown, fmt::format("logit lens of {}", run.file)).save(svg);

  if (format == "jsonl") {
    for (size_t b = 0; b < lens.blocks.size(); ++b)
      for (size_t pos = shown.first; pos < shown.first + shown.count; ++pos) {
        const study::LensCell& c = lens.cells[b][pos];
        Json top_json = Json::array();
        for (const auto& [token, p] : c.top) top_json.push_back({{"token", token}, {"p", p}});
        fmt::print("{}\n", json_line({{"block", lens.blocks[b]},
                                      {"position", pos},
                                      {"reads", lens.tokens[pos]},
                                      {"predicts", lens.eventual[pos]},
                                      {"p_predicted", c.eventual},
                                      {"rank_predicted", c.eventual_rank},
                                      {"top", top_json}}));
      }
    return cli::kExitOk;
  }
  fmt::print("{} ({}): \"{}\" -> \"{}\"\n\n{}", run.file, which_model(run.file, run.info),
             lens.input, lens.output, study::lens_table(lens, shown).markdown());
  fmt::print(
      "\nEach block's cell: the probability it gives the model's final prediction (\"predicts\") "
      "through the final norm and LM head, then its own most likely next token; embed reads the "
      "embedded tokens before the first block.{}\n",
      study::lens_note(lens, shown).empty() ? "" : " Note: " + study::lens_note(lens, shown) + ".");
  if (!svg.empty()) fmt::print("wrote {}\n", svg);
  return cli::kExitOk;
}

}  // namespace attnlab
