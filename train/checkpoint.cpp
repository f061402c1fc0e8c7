#include "train/checkpoint.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>
#include "common/errors.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <stdexcept>

#include "common/hash.h"
#include "io/hdf5.h"

namespace attnlab {
namespace {

namespace fs = std::filesystem;

// Strings as one byte array plus lengths: any bytes (newlines, tabs) survive.

void write_state(H5File& f, const TrainingState& s) {
  f.write<int64_t>("state/step", {s.step}, {});
  f.write<int64_t>("state/epoch", {int64_t(s.epoch)}, {});
  f.write<int64_t>("state/batch_in_epoch", {int64_t(s.batch_in_epoch)}, {});
  f.write<int64_t>("state/dropout_seed", {int64_t(s.dropout_rng.seed)}, {});
  f.write<int64_t>("state/dropout_offset", {int64_t(s.dropout_rng.offset)}, {});
  f.write<double>("state/best_metric", {s.best_metric}, {});
  f.write<int64_t>("state/best_step", {s.best_step}, {});
  f.write<int64_t>("state/evals_without_improvement", {s.evals_without_improvement}, {});
}

TrainingState read_state(const H5File& f) {
  TrainingState s;
  auto scalar = [&](const char* name) {
    return f.read<int64_t>(std::string("state/") + name, {})[0];
  };
  s.step = scalar("step");
  s.epoch = uint64_t(scalar("epoch"));
  s.batch_in_epoch = uint64_t(scalar("batch_in_epoch"));
  s.dropout_rng.seed = uint64_t(scalar("dropout_seed"));
  s.dropout_rng.offset = uint64_t(scalar("dropout_offset"));
  s.best_metric = f.read<double>("state/best_metric", {})[0];
  // Files written before model selection kept only the best value.
  if (f.is_dataset("state/best_step")) {
    s.best_step = scalar("best_step");
    s.evals_without_improvement = scalar("evals_without_improvement");
  }
  if (s.step < 0) throw InputError(fmt::format("{}: state/step is negative", f.filename()));
  return s;
}

// Makes the bytes durable before the rename publishes them.
void fsync_path(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return;  // best effort: some filesystems do not allow it
  ::fsync(fd);
  ::close(fd);
}

// FNV-1a (64-bit) over each tensor's path and then its float32 bytes: HDF5
// does not checksum raw data, and a flipped bit in a weight would otherwise
// load silently. Format 2 on walks the tensors sorted by path (the order h5py
// and h5dump list them, so other tools can recompute it); format 1 walked the
// parameters in the model's registration order. Format 5 on starts the
// parameter checksum with the format version (8 bytes), so that a file
// edited to an older format, to escape that format's checks, no longer
// matches its own parameters.
using StoredTensors = std::vector<std::pair<std::string, std::vector<float>>>;

uint64_t tensors_checksum(StoredTensors tensors, int format_version, uint64_t h = kFnvOffset) {
  if (format_version >= 2)
    std::sort(tensors.begin(), tensors.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [name, values] : tensors) {
    h = fnv1a(h, name.data(), name.size());
    h = fnv1a(h, values.data(), values.size() * sizeof(float));
  }
  return h;
}

uint64_t parameter_checksum(StoredTensors params, int format_version) {
  uint64_t h = kFnvOffset;
  if (format_version >= 5) {
    const int64_t version = format_version;
    h = fnv1a(h, &version, sizeof version);
  }
  return tensors_checksum(std::move(params), format_version, h);
}

StoredTensors as_stored(const NamedTensors& tensors) {
  StoredTensors out;
  for (const auto& [name, t] : tensors) out.emplace_back(name, t.to_floats());
  return out;
}

// The optimizer's: its kind, its step count (int64), then its state tensors.
uint64_t optimizer_checksum(const std::string& kind, int64_t steps, StoredTensors state) {
  uint64_t h = fnv1a(kFnvOffset, kind.data(), kind.size());
  h = fnv1a(h, &steps, sizeof steps);
  return tensors_checksum(std::move(state), kCheckpointVersion, h);
}

bool is_checksum_attribute(const std::string& name) {
  return name == "checksum" || name == "optimizer_checksum" || name == "info_checksum";
}

// Feeds a run of bytes after its length (8 bytes), so that moving a byte
// from one value to the next changes the sum.
uint64_t feed_sized(uint64_t h, const void* data, uint64_t bytes) {
  h = fnv1a(h, &bytes, sizeof bytes);
  return fnv1a(h, data, bytes);
}

// Feeds one numeric dataset's values as stored.
template <typename T>
uint64_t feed_values(uint64_t h, const H5File& f, const std::string& path) {
  const std::vector<T> values = f.read<T>(path).values;
  return feed_sized(h, values.data(), values.size() * sizeof(T));
}

}  // namespace

uint64_t checkpoint_info_checksum(const H5File& f) {
  uint64_t h = kFnvOffset;
  const auto feed_name = [&](const std::string& name) {
    h = fnv1a(h, name.data(), name.size() + 1);  // with its terminating zero byte
  };
  const auto feed_text = [&](const std::string& text) {
    h = feed_sized(h, text.data(), text.size());
  };
  for (const std::string group : {"/", "model_config", "train_config"}) {
    if (group != "/" && !f.is_group(group)) continue;
    for (const std::string& name : f.attribute_names(group)) {
      if (group == "/" && is_checksum_attribute(name)) continue;
      feed_name(group + "@" + name);
      feed_text(f.get_attribute(group, name));
    }
  }
  std::vector<std::string> datasets;
  for (const char* group : {"data", "model_config", "state", "train_config"})
    if (f.is_group(group))
      for (const std::string& path : f.list_datasets(group)) datasets.push_back(path);
  std::sort(datasets.begin(), datasets.end());
  for (const std::string& path : datasets) {
    feed_name(path);
    const std::string type = f.element_type(path);
    if (type == "strings")
      feed_text(f.read_string(path));
    else if (type == "int64 values")
      h = feed_values<int64_t>(h, f, path);
    else if (type == "uint8 values")
      h = feed_values<uint8_t>(h, f, path);
    else if (type == "float64 values")
      h = feed_values<double>(h, f, path);
    else
      throw InputError(fmt::format("{}: '{}' holds {}, which no attnlab checkpoint stores there",
                                   f.filename(), path, type));
  }
  return h;
}

namespace {

std::string hex(uint64_t v) {
  return fmt::format("{:016x}", v);
}

// Compares the root attribute `attribute` with the checksum computed from
// what was read; `what` names it in the message ("parameter checksum").
void expect_checksum(const H5File& f, const std::string& path, const char* attribute,
                     const char* what, uint64_t computed) {
  const std::string want = f.get_attribute("/", attribute);
  const std::string got = hex(computed);
  if (want != got)
    throw InputError(
        fmt::format("{}: {} checksum mismatch (stored {}, computed {}): the file is corrupted",
                    path, what, want, got));
}

// The file's format version; throws naming the file for versions this
// build cannot read (versions 1 to 5 differ in their checksums, and 5 adds run_id).
int format_version(const H5File& f, const std::string& path) {
  const std::string version =
      f.has_attribute("/", "format_version") ? f.get_attribute("/", "format_version") : "?";
  for (int v = 1; v <= kCheckpointVersion; ++v)
    if (version == std::to_string(v)) return v;
  throw InputError(fmt::format(
      "{}: checkpoint format version {} is not supported (this attnlab reads versions 1 to {})",
      path, version, kCheckpointVersion));
}

// The checksum `<name>_checksum` on '/', which files of format `since` on
// must have. One that is there is checked whatever the version says: a
// damaged format_version ('3' -> '2' is one flipped bit) must not turn it off.
template <typename Compute>
void expect_versioned_checksum(const H5File& f, const std::string& path, const std::string& name,
                               const char* what, int since, const char* which_files,
                               Compute&& compute) {
  const std::string attribute = name + "_checksum";
  const bool present = f.has_attribute("/", attribute);
  const int version = format_version(f, path);
  if (version >= since && !present)
    throw InputError(fmt::format(
        "{}: has no {} checksum (attribute '{}' on '/'); format {} {} have one, so the file was "
        "altered",
        path, name, attribute, version, which_files));
  if (present) expect_checksum(f, path, attribute.c_str(), what, compute());
}

// A stored tensor as float32, refusing other element types by name: a file
// rewritten by another tool (float16, int32) is not a corrupted one.
std::vector<float> read_stored_tensor(const H5File& f, const std::string& path,
                                      const std::string& key, const std::vector<int64_t>& shape,
                                      const char* what) {
  const std::string type = f.element_type(key);
  if (type != "float32 values")
    throw InputError(fmt::format(
        "{}: {} '{}' holds {}; attnlab checkpoints store float32 (was the file rewritten by "
        "another tool?)",
        path, what, key, type));
  try {
    return f.read<float>(key, shape);
  } catch (const std::runtime_error& e) {
    throw InputError(fmt::format("{} (the model expects {})", e.what(), shape_str(shape)));
  }
}

}  // namespace

data::Vocab stored_vocab(const CheckpointInfo& info) {
  return data::Vocab::from_tokens(info.vocab_kind, info.vocab_tokens, info.subword_model);
}

void seal_checkpoint_info(H5File& f) {
  f.set_attribute("/", "info_checksum", hex(checkpoint_info_checksum(f)));
}

void save_checkpoint(const std::string& path, const CheckpointInfo& info, const Model& model,
                     const Optimizer* optimizer) {
  const fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  const std::string tmp = fmt::format("{}.tmp-{}", path, ::getpid());
  try {
    H5File f = H5File::create(tmp);
    f.set_attribute("/", "format", kCheckpointFormat);
    f.set_attribute("/", "format_version", std::to_string(kCheckpointVersion));
    if (!info.run_id.empty()) f.set_attribute("/", "run_id", info.run_id);
    f.write_string("model_config/family", family_name(info.model.family));  // makes the group
    for (const auto& [k, v] : config_to_map(info.model)) f.set_attribute("model_config", k, v);
    f.write_string("train_config/model", family_name(info.train.model));
    for (const auto& [k, v] : train_config_fields().to_map(info.train))
      f.set_attribute("train_config", k, v);
    for (const auto& [k, v] : info.train.model_overrides)
      f.set_attribute("train_config", "set." + k, v);
    f.write_string("data/task_kind", std::string(data::task_kind_name(info.task_kind)));
    f.write_string("data/vocab_kind", info.vocab_kind);
    write_string_list(f, "data/vocab", info.vocab_tokens);
    if (!info.subword_model.empty())
      f.write<uint8_t>("data/subword_model",
                       std::vector<uint8_t>(info.subword_model.begin(), info.subword_model.end()),
                       {int64_t(info.subword_model.size())});
    write_string_list(f, "data/labels", info.labels);
    const StoredTensors params = as_stored(model.named_parameters());
    for (const auto& [name, t] : model.named_parameters())
      f.write<float>("params/" + name, t.to_floats(), t.shape());
    f.set_attribute("/", "checksum", hex(parameter_checksum(params, kCheckpointVersion)));
    if (optimizer) {
      const std::string kind = optimizer_name(optimizer->config().kind);
      f.write_string("optimizer/kind", kind);
      f.write<int64_t>("optimizer/steps", {optimizer->steps()}, {});
      const NamedTensors state = optimizer->state();
      for (const auto& [name, t] : state)
        f.write<float>("optimizer/" + name, t.to_floats(), t.shape());
      f.set_attribute("/", "optimizer_checksum",
                      hex(optimizer_checksum(kind, optimizer->steps(), as_stored(state))));
    }
    write_state(f, info.state);
    seal_checkpoint_info(f);
    f.close();
    fsync_path(tmp, false);
    fs::rename(tmp, target);  // atomic on POSIX: readers see the old file or the new one
    fsync_path(target.has_parent_path() ? target.parent_path().string() : ".", true);
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
}

namespace {

CheckpointInfo read_info(const std::string& path) {
  H5File f = H5File::open_read(path);
  if (!f.has_attribute("/", "format") || f.get_attribute("/", "format") != kCheckpointFormat)
    throw InputError(fmt::format(
        "{}: not an attnlab checkpoint (the root has no format=\"{}\" attribute; is it another "
        "program's HDF5 file?)",
        path, kCheckpointFormat));
  // Format 4 on checksums the settings, vocabulary and state, before any of
  // them is used: a flipped bit in them would otherwise load as another value.
  expect_versioned_checksum(f, path, "info", "settings, vocabulary and state", 4, "checkpoints",
                            [&] { return checkpoint_info_checksum(f); });
  CheckpointInfo info;
  try {
    std::map<std::string, std::string> model_fields;
    for (const auto& name : f.attribute_names("model_config"))
      model_fields[name] = f.get_attribute("model_config", name);
    info.model = config_from_map(model_fields);
    for (const auto& name : f.attribute_names("train_config")) {
      const std::string value = f.get_attribute("train_config", name);
      if (name.rfind("set.", 0) == 0)
        info.train.model_overrides[name.substr(4)] = value;
      else
        train_config_fields().set(info.train, name, value);
    }
    validate(info.model);  // sizes are bounded before anything is allocated for them
  } catch (const std::invalid_argument& e) {
    throw InputError(fmt::format("{}: invalid stored config: {}", path, e.what()));
  }
  try {
    validate(info.train, path);
  } catch (const std::invalid_argument& e) {
    throw InputError(e.what());
  }
  try {
    info.task_kind =
        enum_from_name(data::kTaskKindNames, f.read_string("data/task_kind"), "data/task_kind");
  } catch (const std::invalid_argument& e) {
    throw InputError(fmt::format("{}: {}", path, e.what()));
  }
  info.vocab_kind = f.read_string("data/vocab_kind");
  info.vocab_tokens = read_string_list(f, "data/vocab");
  if (f.exists("data/subword_model")) {
    const H5Data<uint8_t> bytes = f.read<uint8_t>("data/subword_model");
    if (bytes.shape.size() != 1)
      throw InputError(fmt::format("{}: data/subword_model must be a list of bytes", path));
    info.subword_model.assign(bytes.values.begin(), bytes.values.end());
  }
  info.labels = read_string_list(f, "data/labels");
  if (int64_t(info.vocab_tokens.size()) != info.model.vocab_size)
    throw InputError(fmt::format("{}: the vocabulary has {} tokens but the model expects {}", path,
                                 info.vocab_tokens.size(), info.model.vocab_size));
  try {
    stored_vocab(info);
  } catch (const std::exception& e) {  // a bad kind or token, or a token's invalid UTF-8
    throw InputError(fmt::format("{}: invalid stored vocabulary (data/vocab{}): {}", path,
                                 info.subword_model.empty() ? "" : ", data/subword_model",
                                 e.what()));
  }
  // A classifier trained on text (BERT's masked LM) has an unused one-class head.
  const bool class_head = architecture_of(info.model.family) == Architecture::Classifier &&
                          info.task_kind != data::TaskKind::LanguageModel;
  if (class_head && int64_t(info.labels.size()) != info.model.num_classes)
    throw InputError(
        fmt::format("{}: {} labels are stored (data/labels) but the model has {} classes", path,
                    info.labels.size(), info.model.num_classes));
  if (info.task_kind == data::TaskKind::Classification && info.labels.empty())
    throw InputError(fmt::format("{}: a classifier without labels (data/labels)", path));
  info.state = read_state(f);
  if (f.has_attribute("/", "run_id")) {
    info.run_id = f.get_attribute("/", "run_id");
    if (!is_run_id(info.run_id))
      throw InputError(fmt::format("{}: run_id '{}' is not 16 lowercase hex digits", path,
                                   info.run_id.substr(0, 40)));
  }
  return info;
}

// Stored float32 values into a parameter of any dtype, outside autograd.
void copy_into(Tensor& t, const std::vector<float>& values) {
  NoGradGuard no_grad;
  const Tensor loaded =
      Tensor::from_vector(std::vector<double>(values.begin(), values.end()), t.shape(), t.dtype());
  std::memcpy(t.raw_data(), loaded.raw_data(), t.numel() * dtype_size(t.dtype()));
}

void read_parameters(const std::string& path, Model& model) {
  H5File f = H5File::open_read(path);
  NamedTensors params = model.named_parameters();
  std::set<std::string> expected;
  for (const auto& [name, t] : params) expected.insert("params/" + name);
  for (const auto& stored : f.list_datasets("params"))
    if (!expected.count(stored))
      throw InputError(
          fmt::format("{}: '{}' is not a parameter of this {} model (checkpoint from a different "
                      "architecture?)",
                      path, stored, family_name(model.config().family)));
  // Everything is read and checked before the model changes.
  if (!f.has_attribute("/", "checksum"))
    throw InputError(fmt::format(
        "{}: has no parameter checksum (attribute 'checksum' on '/'); every attnlab checkpoint "
        "has one, so the file was altered",
        path));
  StoredTensors stored;
  for (const auto& [name, t] : params) {
    const std::string key = "params/" + name;
    if (!f.is_dataset(key))
      throw InputError(fmt::format("{}: parameter '{}' is missing", path, key));
    stored.emplace_back(name, read_stored_tensor(f, path, key, t.shape(), "parameter"));
    const std::vector<float>& values = stored.back().second;
    for (size_t i = 0; i < values.size(); ++i)
      if (!std::isfinite(values[i]))
        throw InputError(
            fmt::format("{}: parameter '{}' holds a non-finite value at element {}", path, key, i));
  }
  const int version = format_version(f, path);
  const uint64_t computed = parameter_checksum(stored, version);
  if (version < kCheckpointVersion && hex(computed) != f.get_attribute("/", "checksum") &&
      hex(parameter_checksum(stored, kCheckpointVersion)) == f.get_attribute("/", "checksum"))
    throw InputError(fmt::format(
        "{}: the parameters were saved as checkpoint format {} but format_version says {}: the "
        "file was edited to an older format, whose weaker checks it cannot pass for a file of "
        "this attnlab",
        path, kCheckpointVersion, version));
  expect_checksum(f, path, "checksum", "parameter", computed);
  for (size_t p = 0; p < params.size(); ++p) copy_into(params[p].second, stored[p].second);
}

void read_optimizer_state(const std::string& path, Optimizer& optimizer) {
  H5File f = H5File::open_read(path);
  if (!f.is_dataset("optimizer/kind"))
    throw InputError(fmt::format("{}: has no optimizer state to resume from", path));
  const std::string kind = f.read_string("optimizer/kind");
  if (kind != optimizer_name(optimizer.config().kind))
    throw InputError(fmt::format("{}: optimizer state is for '{}', but this run uses '{}'", path,
                                 kind, optimizer_name(optimizer.config().kind)));
  const int64_t steps = f.read<int64_t>("optimizer/steps", {})[0];
  if (steps < 0) throw InputError(fmt::format("{}: optimizer/steps is negative ({})", path, steps));
  const NamedTensors expected = optimizer.state();
  StoredTensors stored;
  for (const auto& [name, t] : expected) {
    const std::string key = "optimizer/" + name;
    stored.emplace_back(name, read_stored_tensor(f, path, key, t.shape(), "optimizer state"));
    // A second moment is a running mean of squares: never negative.
    const bool second_moment = name.rfind("exp_avg_sq/", 0) == 0;
    const std::vector<float>& values = stored.back().second;
    for (size_t i = 0; i < values.size(); ++i)
      if (!std::isfinite(values[i]) || (second_moment && values[i] < 0))
        throw InputError(fmt::format(
            "{}: optimizer state '{}' holds {} at element {}", path, key,
            std::isfinite(values[i]) ? "a negative second moment" : "a non-finite value", i));
  }
  // Files before format 3 have no optimizer checksum; the checks above still apply.
  expect_versioned_checksum(f, path, "optimizer", "optimizer", 3,
                            "checkpoints with optimizer state",
                            [&] { return optimizer_checksum(kind, steps, stored); });
  NamedTensors state;
  for (size_t i = 0; i < stored.size(); ++i) {
    const Tensor& t = expected[i].second;
    state.emplace_back(
        stored[i].first,
        Tensor::from_vector(std::vector<double>(stored[i].second.begin(), stored[i].second.end()),
                            t.shape(), t.dtype()));
  }
  optimizer.load_state(state, steps);
}

InitReport read_matching_parameters(const std::string& path, Model& model) {
  H5File f = H5File::open_read(path);
  const int version = format_version(f, path);
  if (version < 2)
    throw InputError(fmt::format(
        "{}: checkpoint format 1 lists its parameters in an order only its own model knows; "
        "resave it (train --resume --steps N saves the current format) to start from it",
        path));
  if (!f.has_attribute("/", "checksum"))
    throw InputError(
        fmt::format("{}: has no parameter checksum (attribute 'checksum' on '/')", path));
  // Every stored parameter is read and checked before the model changes.
  StoredTensors stored;
  std::vector<std::vector<int64_t>> shapes;
  for (const std::string& key : f.list_datasets("params")) {
    const std::vector<int64_t> shape = f.shape(key);
    stored.emplace_back(key.substr(std::string("params/").size()),
                        read_stored_tensor(f, path, key, shape, "parameter"));
    shapes.push_back(shape);
    for (const float value : stored.back().second)
      if (!std::isfinite(value))
        throw InputError(fmt::format("{}: parameter '{}' holds a non-finite value", path, key));
  }
  expect_checksum(f, path, "checksum", "parameter", parameter_checksum(stored, version));
  std::map<std::string, size_t> by_name;  // stored index of each path
  for (size_t i = 0; i < stored.size(); ++i) by_name[stored[i].first] = i;
  InitReport report;
  for (auto& [name, t] : model.named_parameters()) {
    const auto it = by_name.find(name);
    if (it == by_name.end() || shapes[it->second] != t.shape()) {
      report.fresh.push_back(name);
      continue;
    }
    copy_into(t, stored[it->second].second);
    report.loaded.push_back(name);
    by_name.erase(it);
  }
  for (const auto& [name, index] : by_name) report.unused.push_back(name);
  if (report.loaded.empty())
    throw InputError(
        fmt::format("{}: none of its parameters has the path and shape of one of this {} model's",
                    path, family_name(model.config().family)));
  return report;
}

// A checkpoint that cannot be read is bad input, whichever layer noticed
// (HDF5's reader, a dataset of the wrong shape): InputError says so.
template <typename F>
auto as_input_error(F&& read) {
  try {
    return read();
  } catch (const InputError&) {
    throw;
  } catch (const std::runtime_error& e) {
    throw InputError(e.what());
  }
}

}  // namespace

std::string new_run_id() {
  std::random_device entropy;
  const uint64_t drawn = (uint64_t(entropy()) << 32) ^ entropy();
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  const int64_t pid = ::getpid();
  uint64_t h = fnv1a(kFnvOffset, &drawn, sizeof drawn);
  h = fnv1a(h, &now, sizeof now);  // two runs in one process, or a poor entropy source
  return hex(fnv1a(h, &pid, sizeof pid));
}

bool is_run_id(const std::string& text) {
  return text.size() == 16 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

CheckpointInfo read_checkpoint_info(const std::string& path) {
  return as_input_error([&] { return read_info(path); });
}

void load_parameters(const std::string& path, Model& model) {
  as_input_error([&] { read_parameters(path, model); });
}

void load_optimizer_state(const std::string& path, Optimizer& optimizer) {
  as_input_error([&] { read_optimizer_state(path, optimizer); });
}

InitReport load_matching_parameters(const std::string& path, Model& model) {
  return as_input_error([&] { return read_matching_parameters(path, model); });
}

void check_same_run(const CheckpointInfo& a, const std::string& a_path, const CheckpointInfo& b,
                    const std::string& b_path) {
  std::string differs;
  if (a.model.family != b.model.family)
    differs = fmt::format("the model family is {} in one and {} in the other",
                          family_name(a.model.family), family_name(b.model.family));
  const auto am = config_to_map(a.model), bm = config_to_map(b.model);
  for (const auto& [key, value] : am)
    if (differs.empty() && (!bm.count(key) || bm.at(key) != value))
      differs = fmt::format("model {} is {} in one and {} in the other", key, value,
                            bm.count(key) ? bm.at(key) : std::string("absent"));
  if (differs.empty() && a.train.task != b.train.task)
    differs =
        fmt::format("the task is '{}' in one and '{}' in the other", a.train.task, b.train.task);
  if (differs.empty() && a.task_kind != b.task_kind)
    differs = fmt::format("the task kind is {} in one and {} in the other",
                          data::task_kind_name(a.task_kind), data::task_kind_name(b.task_kind));
  if (differs.empty() && a.vocab_kind != b.vocab_kind)
    differs =
        fmt::format("the tokenizer is {} in one and {} in the other", a.vocab_kind, b.vocab_kind);
  if (differs.empty() && (a.vocab_tokens != b.vocab_tokens || a.subword_model != b.subword_model))
    differs = "their vocabularies differ";
  if (differs.empty() && a.labels != b.labels) differs = "their labels differ";
  // Files from before run ids have none; settings are all they can compare.
  if (differs.empty() && !a.run_id.empty() && !b.run_id.empty() && a.run_id != b.run_id)
    differs = fmt::format("two runs with the same settings: run id {} and {}", a.run_id, b.run_id);
  if (differs.empty()) return;
  throw InputError(fmt::format(
      "{} and {} are not of one run ({}); a checkpoint copied from another run cannot continue "
      "this one: move one of them away",
      a_path, b_path, differs));
}

}  // namespace attnlab
