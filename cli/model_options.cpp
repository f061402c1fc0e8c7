#include "cli/model_options.h"

#include <fmt/format.h>

#include <utility>
#include <vector>

namespace attnlab::cli {

namespace {

const std::vector<std::pair<const char*, const char*>>& model_shortcuts() {
  static const std::vector<std::pair<const char*, const char*>> all = {
      {"d-model", "d_model"},
      {"heads", "n_heads"},
      {"d-ff", "d_ff"},
      {"layers", "n_layers"},
      {"decoder-layers", "n_decoder_layers"},
      {"max-len", "max_len"},
      {"dropout", "dropout"},
      {"norm", "norm"},
      {"positions", "positions"},
      {"placement", "placement"},
      {"activation", "activation"},
  };
  return all;
}

}  // namespace

void add_model_options(po::options_description& options) {
  for (const auto& [opt, key] : model_shortcuts())
    options.add_options()(
        opt, po::value<std::string>(),
        fmt::format("model config {}: {}", key, model_config_fields().find(key)->help).c_str());
  options.add_options()(
      "set", po::value<std::vector<std::string>>()->composing(),
      "any model config field, key=value (repeatable), e.g. --set tie_embeddings=false");
}

std::map<std::string, std::string> model_overrides(const po::variables_map& vm, Family family) {
  std::map<std::string, std::string> overrides;
  ModelConfig probe = preset(family);
  for (const auto& [opt, key] : model_shortcuts())
    if (vm.count(opt)) {
      set_config_field(probe, key, vm[opt].as<std::string>());  // validates the value now
      overrides[key] = vm[opt].as<std::string>();
    }
  if (vm.count("set"))
    for (const std::string& kv : vm["set"].as<std::vector<std::string>>()) {
      const auto eq = kv.find('=');
      if (eq == std::string::npos)
        throw std::invalid_argument(fmt::format("--set {}: expected key=value", kv));
      set_config_field(probe, kv.substr(0, eq), kv.substr(eq + 1));
      overrides[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  return overrides;
}

}  // namespace attnlab::cli
