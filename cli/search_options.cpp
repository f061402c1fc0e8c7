#include "cli/search_options.h"

#include <fmt/format.h>

#include <cmath>

namespace attnlab::cli {

void add_search_options(po::options_description& options, bool sampling) {
  options.add_options()  //
      ("beam", po::value<int64_t>()->default_value(1),
       "beam search with this many beams (1 = greedy)")  //
      ("length-penalty", po::value<double>()->default_value(0.6),
       "beam search: score = log P / ((5 + length) / 6)^alpha; 0 = plain log P");
  if (!sampling) return;
  options.add_options()  //
      ("temperature", po::value<double>()->default_value(0.0),
       "sample from softmax(logits / T); 0 = greedy")  //
      ("top-k", po::value<int64_t>()->default_value(0),
       "sample among the k likeliest (0 = all)")  //
      ("top-p", po::value<double>()->default_value(1.0),
       "sample among the likeliest tokens holding this much probability")  //
      ("seed", po::value<uint64_t>()->default_value(0),
       "sampling seed: the same seed, the same text");
}

GenerateOptions search_options(const po::variables_map& vm, bool sampling,
                               double default_temperature) {
  GenerateOptions o;
  o.beam = vm["beam"].as<int64_t>();
  o.length_penalty = vm["length-penalty"].as<double>();
  if (sampling) {
    o.temperature = vm["temperature"].as<double>();
    if (vm["temperature"].defaulted()) o.temperature = o.beam > 1 ? 0.0 : default_temperature;
    o.top_k = vm["top-k"].as<int64_t>();
    o.top_p = vm["top-p"].as<double>();
    o.seed = vm["seed"].as<uint64_t>();
    if ((vm.count("top-k") && !vm["top-k"].defaulted()) ||
        (vm.count("top-p") && !vm["top-p"].defaulted()))
      if (o.temperature == 0)
        throw UsageError("--top-k and --top-p shape sampling: give a --temperature above 0 too");
  }
  if (o.beam < 1 || o.beam > 64)
    throw UsageError(fmt::format("--beam {}: must be 1 to 64", o.beam));
  if (o.beam > 1 && o.temperature > 0)
    throw UsageError("--beam picks the likeliest sequences and --temperature samples: give one");
  if (!(o.temperature >= 0) || o.temperature > 1e6)
    throw UsageError(
        fmt::format("--temperature {}: must be 0 (greedy) or positive", o.temperature));
  if (o.top_k < 0) throw UsageError(fmt::format("--top-k {}: must be >= 0", o.top_k));
  if (!(o.top_p > 0 && o.top_p <= 1))
    throw UsageError(fmt::format("--top-p {}: must be in (0, 1]", o.top_p));
  if (!std::isfinite(o.length_penalty))
    throw UsageError("--length-penalty: must be a finite number");
  return o;
}

}  // namespace attnlab::cli
