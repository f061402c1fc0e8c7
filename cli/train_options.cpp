#include "cli/train_options.h"

#include <fmt/format.h>

#include <filesystem>
#include <iterator>
#include <optional>
#include <sstream>

#include "cli/model_options.h"
#include "data/read_file.h"
#include "models/config.h"
#include "train/checkpoint.h"
#include "train/run_dir.h"

namespace attnlab::cli {

namespace {
// An INI file of options is a few hundred bytes; a megabyte is not one.
constexpr std::size_t kMaxConfigFileBytes = std::size_t(1) << 20;
}  // namespace

std::string option_name(std::string key) {
  for (char& ch : key)
    if (ch == '_') ch = '-';
  return key;
}

po::options_description train_options() {
  po::options_description options(
      "train options (every option can also be set in an INI file given with --config)");
  options.add_options()("config", po::value<std::string>(),
                        "INI file with option = value lines; the command line wins");
  for (const auto& field : train_config_fields().fields())
    options.add_options()(option_name(field.name).c_str(), po::value<std::string>(),
                          field.help.c_str());
  add_model_options(options);
  options.add_options()                                                                        //
      ("resume", "continue the run in --out from its checkpoint")                              //
      ("overwrite", "replace the run already in --out (its checkpoint, best model, metrics)")  //
      ("stop-at", po::value<int64_t>()->default_value(0),
       "stop and save after this step (resume later with --resume)")  //
      ("threads", po::value<int>()->default_value(0),
       "OpenMP threads (0 = all cores; under mpirun, each rank its share)")  //
      ("quiet", "no progress output")                                        //
      ("tune", po::value<double>(),
       "MINUTES: instead of one run, a small sweep of learning rates and dropouts (and BERT's "
       "--mlm-weight on a classification task) sharing this budget, each judged on the held-out "
       "split; the best is kept in --out, every candidate in --out/tune");
  return options;
}

void merge_config_text(const po::options_description& options, po::variables_map& vm,
                       std::istream& in, const std::string& source) {
  // Keys are checked here, with their line, before Boost sees them: Boost's
  // message for an unknown key substitutes it into a template, and a key that
  // holds the template's own placeholder ('%canonical_option%') makes that
  // loop forever.
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::istringstream lines(text);
  std::string section;
  int number = 0;
  for (std::string line; std::getline(lines, line);) {
    ++number;
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#' || line[first] == ';') continue;
    const auto last = line.find_last_not_of(" \t\r");
    if (line[first] == '[' && line[last] == ']') {
      section = line.substr(first + 1, last - first - 1);
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;  // Boost reports the malformed line itself
    std::string key = line.substr(first, eq - first);
    key.erase(key.find_last_not_of(" \t") + 1);
    if (!section.empty()) key = section + "." + key;
    if (key.empty())
      throw UsageError(fmt::format("{}:{}: a value with no option name", source, number));
    const po::option_description* known = nullptr;
    try {
      known = options.find_nothrow(key, false);
    } catch (po::error& e) {  // e.g. a key that several options could be
      throw UsageError(fmt::format("{}:{}: {}", source, number, describe_option_error(e)));
    }
    if (!known)
      throw UsageError(fmt::format("{}:{}: unrecognised option '{}'", source, number, key));
  }
  std::istringstream checked(text);
  try {
    const po::parsed_options parsed = po::parse_config_file(checked, options, false);
    for (const auto& option : parsed.options)
      if (option.string_key == "config" || option.string_key == "help")
        throw UsageError(
            fmt::format("{}: '{}' is a command-line option; a config file cannot set it", source,
                        option.string_key));
    po::store(parsed, vm);  // command line wins
  } catch (po::error& e) {
    throw UsageError(fmt::format("{}: {}", source, describe_option_error(e)));
  }
  po::notify(vm);
}

void merge_config_file(const po::options_description& options, po::variables_map& vm) {
  if (!vm.count("config")) return;
  const std::string path = vm["config"].as<std::string>();
  std::istringstream in;
  try {
    in.str(data::read_regular_file(path, kMaxConfigFileBytes, "--config"));
  } catch (const std::runtime_error& e) {
    throw UsageError(e.what());
  }
  merge_config_text(options, vm, in, "--config " + path);
}

TrainConfig train_config_from_options(const po::variables_map& vm) {
  auto get = [&](const std::string& key) -> std::optional<std::string> {
    const std::string opt = option_name(key);
    if (vm.count(opt)) return vm[opt].as<std::string>();
    return std::nullopt;
  };
  try {
    // The model and the data's kind first: they pick the recipe the other options adjust.
    TrainConfig chosen;
    train_config_fields().set(chosen, "model", get("model").value_or("t5"));
    if (auto kind = get("task_kind")) train_config_fields().set(chosen, "task_kind", *kind);
    TrainConfig config = recipe(chosen.model, get("task").value_or(""), chosen.task_kind);
    for (const auto& field : train_config_fields().fields())
      if (auto v = get(field.name)) train_config_fields().set(config, field.name, *v);
    // A run from a pretrained model takes its shape from there: only the
    // model options given here apply (and must agree with it).
    if (!config.init_from.empty()) config.model_overrides.clear();
    ModelConfig probe = preset(config.model);
    for (const auto& [key, value] : model_overrides(vm, config.model)) {
      set_config_field(probe, key, value);
      config.model_overrides[key] = value;
    }
    // A resumed run takes its settings from the checkpoint; Trainer checks them.
    if (!vm.count("resume")) {
      validate(config);
      validate(probe);  // combinations of model fields, before any data is made
    }
    return config;
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
}

void check_resume_options(const po::variables_map& vm, const TrainConfig& config) {
  const auto refuse = [](const std::string& what) { throw UsageError(what); };
  const int64_t stop_at = vm["stop-at"].as<int64_t>();
  if (stop_at < 0) refuse(fmt::format("--stop-at {}: must be >= 0 (0 = run to the end)", stop_at));
  if (!vm.count("resume")) return;
  if (vm.count("steps") && config.steps <= 0)
    refuse(fmt::format("--steps {}: must be positive", config.steps));
  const std::string ckpt = run_files::in(config.out, run_files::kCheckpoint);
  if (!std::filesystem::exists(ckpt)) return;  // the trainer says there is nothing to resume
  const CheckpointInfo stored = read_checkpoint_info(ckpt);
  // `given` is the option as typed ("--lr 0.5", "--set dropout=0.5").
  const auto changes = [&](const std::string& given, const std::string& was) {
    refuse(fmt::format(
        "--resume continues {} with its stored settings, and {} would change {} there. Only "
        "--steps, --minutes and --stop-at change on resume; start a new run (another --out, or "
        "--overwrite) to change it",
        ckpt, given, was));
  };
  // A stored setting given again with its stored value is fine (the same --config file).
  const auto& fields = train_config_fields();
  const auto stored_train = fields.to_map(stored.train);
  for (const auto& field : fields.fields()) {
    const std::string option = option_name(field.name);
    if (field.name == "out" || field.name == "steps" || field.name == "minutes" ||
        !vm.count(option))
      continue;
    TrainConfig given = stored.train;
    try {
      fields.set(given, field.name, vm[option].as<std::string>());
    } catch (const std::invalid_argument& e) {
      refuse(e.what());
    }
    const std::string now = fields.to_map(given).at(field.name);
    if (now != stored_train.at(field.name))
      changes(fmt::format("--{} {}", option, vm[option].as<std::string>()),
              fmt::format("{} = {}", field.name, stored_train.at(field.name)));
  }
  const auto stored_model = config_to_map(stored.model);
  for (const auto& [key, value] : model_overrides(vm, stored.model.family)) {
    ModelConfig given = stored.model;
    set_config_field(given, key, value);
    const std::string now = config_to_map(given).at(key);
    if (now != stored_model.at(key))
      changes(model_option_given(vm, key), fmt::format("{} = {}", key, stored_model.at(key)));
  }
  if (vm.count("steps") && config.steps <= stored.state.step)
    refuse(fmt::format("--steps {}: {} is already at step {}; give a larger total", config.steps,
                       ckpt, stored.state.step));
  if (stop_at != 0 && stop_at <= stored.state.step)
    refuse(fmt::format("--stop-at {}: {} is already at step {}", stop_at, ckpt, stored.state.step));
}

}  // namespace attnlab::cli
