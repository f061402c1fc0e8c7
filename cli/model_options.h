// The model options every command that builds models shares (train,
// describe, compare): shortcuts for the most used config fields (--d-model,
// --heads, ...) and --set key=value for any field.
#pragma once

#include <map>
#include <set>
#include <string>

#include "cli/cli_common.h"
#include "models/config.h"

namespace attnlab::cli {

void add_model_options(po::options_description& options);

// The model fields the options set (key -> value), each checked against
// `family`'s preset as it is read; throws std::invalid_argument naming the
// option and the field.
// Options in `skip` (compare's list-valued --d-model 64,128 ...) are left
// out: they are set run by run.
std::map<std::string, std::string> model_overrides(const po::variables_map& vm, Family family,
                                                   const std::set<std::string>& skip = {});

// The option that gave model field `key` its value in model_overrides, as
// typed: "--d-model 64", or "--set d_model=64" (which wins over the other).
std::string model_option_given(const po::variables_map& vm, const std::string& key);

}  // namespace attnlab::cli
