// Fuzz target: the train command's INI files (--config) and the model config
// registry (--set key=value), parsed exactly as `attnlab train` parses them.
// Input: one byte choosing the path, then the text. Expected: a TrainConfig
// and model config that pass validation and describe a model of bounded
// size, or a usage error (std::invalid_argument for --set) that says what is
// wrong. Anything else escaping is a crash.
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

#include "cli/train_options.h"
#include "fuzz/bytes.h"
#include "fuzz/fuzz_common.h"
#include "models/config.h"

namespace {

using namespace attnlab;

// A validated model config must be one that can be built: bounded sizes.
void expect_bounded(const ModelConfig& config) {
  const double params = double(parameter_count(config));
  if (!(params <= double(kMaxModelParameters)))
    fuzz::violated("a validated model config has at most kMaxModelParameters parameters",
                   std::to_string(params));
}

void ini_text(std::string_view text) {
  const auto options = cli::train_options();
  cli::po::variables_map vm;
  std::istringstream in{std::string(text)};
  try {
    cli::merge_config_text(options, vm, in, "fuzz.ini");
    const TrainConfig config = cli::train_config_from_options(vm);
    if (vm.count("resume")) return;  // validated later, against the checkpoint
    ModelConfig model = model_config_for(config, 64, 2);
    validate(model);
    expect_bounded(model);
  } catch (const cli::UsageError& e) {
    if (std::string_view(e.what()).empty()) fuzz::violated("a usage error says something", "");
  }
}

void set_lines(fuzz::Bytes& in) {
  const uint8_t family = in.byte();
  ModelConfig config = preset(static_cast<Family>(family % 4));
  std::istringstream lines{std::string(in.rest())};
  try {
    for (std::string line; std::getline(lines, line);) {
      const auto eq = line.find('=');
      if (eq == std::string::npos) continue;
      set_config_field(config, line.substr(0, eq), line.substr(eq + 1));
    }
    validate(config);
    expect_bounded(config);
  } catch (const std::invalid_argument& e) {
    if (std::string_view(e.what()).empty()) fuzz::violated("an invalid field says something", "");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Bytes in(data, size);
  if (in.byte() % 2 == 0)
    ini_text(in.rest());
  else
    set_lines(in);
  return 0;
}
