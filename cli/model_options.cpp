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

std::map<std::string, std::string> model_overrides(const po::variables_map& vm, Family family,
                                                   const std::set<std::string>& skip) {
  std::map<std::string, std::string> overrides;
  ModelConfig probe = preset(family);
  for (const auto& [opt, key] : model_shortcuts())
    if (vm.count(opt) && !skip.count(opt)) {
      set_config_field(probe, key, vm[opt].as<std::string>());  // validates the value now
      overrides[key] = vm[opt].as<std::string>();
    }
  if (vm.count("set"))
    for (const std::string& kv : vm["set"].as<std::vector<std::string>>()) {
      const auto eq = kv.find('=');
      if (eq == std::string::npos)
        throw std::invalid_argument(fmt::format("--set {}: expected key=value", kv));
      const std::string key = kv.substr(0, eq);
      // The run sets these itself; an override would be dropped without a word.
      static const std::map<std::string, std::string> set_by_the_run = {
          {"vocab_size", "from the training data's vocabulary"},
          {"num_classes", "from the training data's labels"},
          {"seed", "by --seed"},
          {"family", "by --model"}};
      if (const auto it = set_by_the_run.find(key); it != set_by_the_run.end())
        throw std::invalid_argument(
            fmt::format("--set {}: model config '{}' is set {}", kv, key, it->second));
      set_config_field(probe, key, kv.substr(eq + 1));
      overrides[key] = kv.substr(eq + 1);
    }
  return overrides;
}

std::string model_option_given(const po::variables_map& vm, const std::string& key) {
  std::string given;
  for (const auto& [opt, field] : model_shortcuts())
    if (field == key && vm.count(opt))
      given = fmt::format("--{} {}", opt, vm[opt].as<std::string>());
  if (vm.count("set"))
    for (const std::string& kv : vm["set"].as<std::vector<std::string>>())
      if (kv.rfind(key + "=", 0) == 0) given = "--set " + kv;
  return given;
}

}  // namespace attnlab::cli
