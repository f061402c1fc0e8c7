// `attnlab train --tune MINUTES` (cli/tune_command.cpp): train's options
// with a budget for a small sweep instead of one run.
#pragma once

#include "cli/cli_common.h"
#include "train/train_config.h"

namespace attnlab::cli {

// Trains the candidates of study/tune.h around `base` (train's options as
// given) within --tune's minutes and keeps the best in --out. Throws
// UsageError for options that do not go with --tune. Returns the exit code.
int tune_command(const po::variables_map& vm, TrainConfig base);

}  // namespace attnlab::cli
