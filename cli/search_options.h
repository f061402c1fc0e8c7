// Options that choose how generating models pick output tokens (predict,
// eval, generate): --beam and --length-penalty, and with sampling allowed
// --temperature, --top-k, --top-p and --seed.
#pragma once

#include "cli/cli_common.h"
#include "decode/search.h"

namespace attnlab::cli {

void add_search_options(po::options_description& options, bool sampling);

// The options as given, checked (cli::UsageError naming the option). Without
// --temperature, `default_temperature` applies (0 = greedy; beam search never samples).
GenerateOptions search_options(const po::variables_map& vm, bool sampling,
                               double default_temperature = 0);

}  // namespace attnlab::cli
