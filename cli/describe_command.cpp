// `attnlab describe`: the families side by side before any training. The
// tables are study/describe.h; this file reads the options.
#include <fmt/format.h>

#include <algorithm>

#include "autograd/parallel.h"
#include "cli/cli_common.h"
#include "cli/commands.h"
#include "cli/model_options.h"
#include "models/stats.h"
#include "study/describe.h"
#include "train/memory_limit.h"

namespace attnlab {

namespace po = cli::po;

namespace {

std::vector<Family> chosen_families(const std::string& text) {
  if (text == "all") return {Family::BERT, Family::GPT, Family::T5, Family::Perceiver};
  std::vector<Family> out;
  for (const std::string& name : cli::parse_name_list(text)) {
    try {
      out.push_back(family_from_name(name));
    } catch (const std::invalid_argument& e) {
      throw cli::UsageError(fmt::format("--model: {} (or all)", e.what()));
    }
  }
  if (out.empty()) throw cli::UsageError("--model: name a family, a comma list, or all");
  return out;
}

}  // namespace

int describe_command(int argc, char** argv) {
  po::options_description options("describe options");
  options.add_options()  //
      ("model", po::value<std::string>()->default_value("all"),
       "bert, gpt, t5, perceiver, a comma list, or all (side by side)")  //
      ("seq", po::value<int64_t>()->default_value(128),
       "sequence length T for the tables (T5: source and target length)")  //
      ("batch", po::value<int64_t>()->default_value(8),
       "batch size B for mask shapes and memory")  //
      ("lengths", po::value<std::string>(),
       "comma list of sequence lengths: how FLOPs and memory grow, e.g. 64,128,256,512")          //
      ("measure", "with --lengths: also run forward+backward at each length and measure")         //
      ("repeats", po::value<int>()->default_value(3), "timed repeats per length with --measure")  //
      ("threads", po::value<int>()->default_value(0),
       "OpenMP threads for --measure (0 = all cores)");
  cli::add_model_options(options);
  po::variables_map vm;
  if (!cli::parse_options(
          "describe",
          "Describes model families before training: attention routing and "
          "masks, parameters, FLOPs, memory and KV cache per token.\n"
          "Example: attnlab describe --model all --seq 128 --lengths 64,128,256,512",
          argc, argv, options, vm))
    return cli::kExitOk;
  const int64_t seq = vm["seq"].as<int64_t>(), batch = vm["batch"].as<int64_t>();
  if (seq <= 0) throw cli::UsageError(fmt::format("--seq {}: must be positive", seq));
  if (batch <= 0) throw cli::UsageError(fmt::format("--batch {}: must be positive", batch));
  const int repeats = vm["repeats"].as<int>();
  if (repeats <= 0) throw cli::UsageError(fmt::format("--repeats {}: must be positive", repeats));
  std::vector<int64_t> lengths;
  if (vm.count("lengths"))
    lengths = cli::parse_int_list("--lengths", vm["lengths"].as<std::string>());
  if (vm.count("measure") && lengths.empty())
    throw cli::UsageError("--measure needs --lengths (the lengths to measure at)");
  cli::apply_threads(vm["threads"].as<int>());

  const int64_t longest =
      std::max(seq, lengths.empty() ? 0 : *std::max_element(lengths.begin(), lengths.end()));
  std::vector<ModelConfig> configs;
  for (Family f : chosen_families(vm["model"].as<std::string>())) {
    ModelConfig c = preset(f);
    try {
      for (const auto& [key, value] : cli::model_overrides(vm, f)) set_config_field(c, key, value);
      validate(c);
    } catch (const std::invalid_argument& e) {
      throw cli::UsageError(fmt::format("{} model: {}", family_name(f), e.what()));
    }
    if (longest > c.max_len) {
      if (vm.count("max-len"))
        throw cli::UsageError(fmt::format(
            "--max-len {} is shorter than the longest length asked for ({})", c.max_len, longest));
      const int64_t preset_max_len = c.max_len;
      c.max_len = longest;
      try {
        validate(c);  // a length past max_len's bound, or positions past the parameter bound
      } catch (const std::invalid_argument& e) {
        throw cli::UsageError(fmt::format("{} {}: no {} model can be that long: {}",
                                          longest == seq ? "--seq" : "--lengths", longest,
                                          family_name(f), e.what()));
      }
      fmt::print("note: {} max_len raised from {} to {} to cover T={}\n", family_name(f),
                 preset_max_len, longest, longest);
    }
    configs.push_back(c);
  }
  // Measuring runs forward and backward at every length: refuse, before any
  // table is printed, a pass that cannot fit in the memory this process may use.
  if (vm.count("measure")) {
    const MemoryLimit limit = process_memory_limit();
    for (const ModelConfig& c : configs)
      for (int64_t T : lengths) {
        const double need = model_stats(c, T, batch).activation_bytes * double(T * batch);
        if (need > limit.bytes)
          throw cli::UsageError(fmt::format(
              "--measure at T={} with --batch {}: the {} pass keeps about {} of activations, "
              "more than the {} this process may use ({}); measure shorter --lengths or a "
              "smaller --batch (the tables without --measure need no memory)",
              T, batch, family_name(c.family), memory_size(need), memory_size(limit.bytes),
              limit.source));
      }
  }

  for (const ModelConfig& c : configs) {
    fmt::print("\n## {}: {}\n\n", family_name(c.family), architecture_summary(c));
    fmt::print("{}", study::layout_table(c, seq, batch));
  }
  fmt::print("\n## {}\n\n", configs.size() > 1 ? "Side by side" : "Cost");
  fmt::print("{}", study::cost_table(configs, seq, batch));
  fmt::print(
      "\nFLOPs count matrix products (multiply-add = 2); training = 3 x forward. Activations are "
      "the tensors the forward graph keeps for backward, in {}, for full-length sequences. "
      "Attention keeps its output and one log-sum-exp per query row and head, never the "
      "(Tq,Tk) weights, which backward recomputes tile by tile: its activations grow linearly "
      "with T (a T5 relative bias, shared by the batch, is (H,T,T)).\n",
      dtype_name(configs.front().dtype));
  if (!lengths.empty()) {
    fmt::print("\n## Scaling with sequence length (B={})\n\n", batch);
    fmt::print("{}",
               study::scaling_table(configs, lengths, batch, vm.count("measure") > 0, repeats));
    if (vm.count("measure"))
      fmt::print(
          "\nMeasured: median of {} forward+backward passes with {} threads; counted activations "
          "walk the recorded graph (they equal the formula); peak tensor memory is the most "
          "tensor storage alive at once during the pass beyond the parameters (activations, "
          "gradients, temporaries).\n",
          repeats, thread_count());
  }
  return cli::kExitOk;
}

}  // namespace attnlab
