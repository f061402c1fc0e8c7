// The model options every command that builds models shares (train,
// describe, compare): shortcuts for the most used config fields (--d-model,
// --heads, ...) and --set key=value for any field.
#pragma once

#include <map>
#include <string>

#include "cli/cli_common.h"
#include "models/config.h"

namespace attnlab::cli {

void add_model_options(po::options_description& options);

// The model fields the options set (key -> value), each checked against
// `family`'s preset as it is read; throws std::invalid_argument naming the
// option and the field.
std::map<std::string, std::string> model_overrides(const po::variables_map& vm, Family family);

}  // namespace attnlab::cli
