// `attnlab generate`: a language model (trained with --task-kind lm)
// continues a prompt, printing each token as it comes. Past the model's
// context (max_len = block size) it slides: the last half of the context is
// kept and read again, and generation goes on.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "cli/commands.h"
#include "cli/search_options.h"
#include "common/hash.h"
#include "study/loaded_run.h"

namespace attnlab {

namespace po = cli::po;

int generate_command(int argc, char** argv) {
  po::options_description options("generate options");
  std::string ckpt, prompt;
  int64_t max_new = 200;
  int threads = 0;
  options.add_options()  //
      ("ckpt", po::value(&ckpt)->required(),
       "a language model's checkpoint file or run directory (train --task-kind lm)")  //
      ("prompt", po::value(&prompt),
       "the text to continue (default: a newline for a character model)")             //
      ("max-new", po::value(&max_new)->default_value(max_new), "tokens to generate")  //
      ("threads", po::value(&threads)->default_value(0), "OpenMP threads (0 = all cores)");
  cli::add_search_options(options, true);
  po::variables_map vm;
  if (!cli::parse_options("generate",
                          "Continues a prompt with a language model, printing the text as it is "
                          "generated (sampling at temperature 0.8 unless told otherwise).\n"
                          "Example: attnlab generate --ckpt runs/lm --prompt \"The \" --max-new "
                          "300 --seed 1",
                          argc, argv, options, vm))
    return cli::kExitOk;
  cli::apply_threads(threads);
  if (max_new < 1 || max_new > 10'000'000)
    throw cli::UsageError(fmt::format("--max-new {}: must be 1 to 10000000", max_new));
  GenerateOptions search = cli::search_options(vm, true, 0.8);
  LoadedRun run = load_run(ckpt);
  if (run.info.task_kind != data::TaskKind::LanguageModel)
    throw cli::UsageError(fmt::format(
        "{} is a {} model: generate continues text with a language model (train --task-kind lm); "
        "use predict for it",
        run.file, data::task_kind_name(run.info.task_kind)));
  if (run.model->architecture() != Architecture::DecoderOnly)
    throw cli::UsageError(fmt::format(
        "{} is a {} trained on text with the {} objective: it fills in text rather than "
        "continuing it; generate needs a causal language model (--model gpt)",
        run.file, family_name(run.info.model.family), run.framing->name()));
  const bool word_tokens = run.vocab->kind() == data::TokenizerKind::Word;
  if (!vm.count("prompt") && !word_tokens) prompt = "\n";  // start as a new line would
  if (prompt.empty()) throw cli::UsageError("--prompt: give some text for the model to continue");
  std::vector<int32_t> tokens;
  try {
    tokens = run.vocab->encode(prompt, "--prompt");
  } catch (const std::exception& e) {
    throw cli::UsageError(e.what());
  }
  if (tokens.empty())
    throw cli::UsageError(
        "--prompt: it has no token (a word model splits on whitespace): give some words");
  const int64_t context = run.model->config().max_len;
  if (int64_t(tokens.size()) >= context) {
    fmt::print(stderr, "attnlab generate: the prompt has {} tokens; the model reads the last {}\n",
               tokens.size(), context / 2);
    tokens.erase(tokens.begin(), tokens.end() - context / 2);
  }
  fmt::print(stderr, "attnlab generate: {} ({})\n", run.file, which_model(run.file, run.info));
  EvalScope eval(*run.model);
  fmt::print("{}", prompt);
  std::fflush(stdout);
  search.eos_id = -1;  // a text has no end token: it stops at --max-new
  search.never.assign(data::kNeverGenerated.begin(), data::kNeverGenerated.end());
  // Word tokens were split on whitespace: a space goes back before each word
  // (none before the first if the prompt already ends in one).
  bool space_before = word_tokens && !std::isspace(static_cast<unsigned char>(prompt.back()));
  int64_t remaining = max_new, window = 0;
  while (remaining > 0) {
    // The first window reads the whole prompt; later ones the last half of the context.
    const size_t keep = window == 0 ? tokens.size() : size_t(context / 2);
    const std::vector<int32_t> ctx(tokens.end() - int64_t(std::min(keep, tokens.size())),
                                   tokens.end());
    GenerateOptions o = search;
    o.max_new = std::min<int64_t>(remaining, context - int64_t(ctx.size()));
    o.seed = splitmix64_mix(search.seed * kSplitmix64Step + uint64_t(window));  // a fresh stream
    const Generated g =
        generate(*run.model, {ctx}, nullptr, nullptr, o, [&](size_t, int32_t token) {
          fmt::print("{}{}", space_before ? " " : "",
                     run.vocab->decode(std::span<const int32_t>(&token, 1)));
          space_before = word_tokens;
          std::fflush(stdout);
        })[0];
    tokens.insert(tokens.end(), g.tokens.begin(), g.tokens.end());
    remaining -= int64_t(g.tokens.size());
    if (g.tokens.empty()) break;
    ++window;
  }
  fmt::print("\n");
  return cli::kExitOk;
}

}  // namespace attnlab
