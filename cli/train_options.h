// The options of `attnlab train`: one description for the command line and
// for INI files given with --config, and the TrainConfig they make. Kept apart
// from the command so that the fuzz targets parse exactly what users write.
#pragma once

#include <istream>
#include <string>

#include "cli/cli_common.h"
#include "train/train_config.h"

namespace attnlab::cli {

// Every TrainConfig field (--batch-size), the model overrides (--set, --d-model,
// ...), and the run controls (--resume, --overwrite, --stop-at, --threads,
// --quiet, --config).
po::options_description train_options();

// Command-line spelling of a TrainConfig key: batch_size -> batch-size.
std::string option_name(std::string key);

// Adds the INI text read from `in` beneath what `vm` holds (the command line
// wins). `source` names the text in messages ("--config run.ini"). Throws
// UsageError.
void merge_config_text(const po::options_description& options, po::variables_map& vm,
                       std::istream& in, const std::string& source);

// Reads `--config FILE` when given; refuses what is not a readable regular file.
void merge_config_file(const po::options_description& options, po::variables_map& vm);

// The TrainConfig that the options ask for: the model's recipe for the task,
// then every option that was given. Validated unless the run resumes (its
// settings then come from the checkpoint). Throws UsageError naming the option.
TrainConfig train_config_from_options(const po::variables_map& vm);

// Refuses run controls that cannot apply: a negative --stop-at; on --resume,
// a --steps or --stop-at the run has already passed, and any stored setting
// (a TrainConfig field other than --out, --steps and --minutes, or a model
// option) given with another value than the checkpoint's.
void check_resume_options(const po::variables_map& vm, const TrainConfig& config);

}  // namespace attnlab::cli
