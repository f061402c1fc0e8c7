#include "train/checkpoint.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
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
  if (s.step < 0) throw std::runtime_error(fmt::format("{}: state/step is negative", f.filename()));
  return s;
}

// Makes the bytes durable before the rename publishes them.
void fsync_path(const std::string& path, bool directory) {
  int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) return;  // best effort: some filesystems do not allow it
  ::fsync(fd);
  ::close(fd);
}

// FNV-1a (64-bit) over each parameter's path and then its float32 bytes:
// HDF5 does not checksum raw data, and a flipped bit in a weight would
// otherwise load silently. Format 2 walks the parameters sorted by path (the
// order h5py and h5dump list them, so other tools can recompute it); format
// 1 walked them in the model's registration order.
uint64_t parameter_checksum(NamedTensors params, int format_version) {
  if (format_version >= 2)
    std::sort(params.begin(), params.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
  uint64_t h = kFnvOffset;
  for (const auto& [name, t] : params) {
    h = fnv1a(h, name.data(), name.size());
    std::vector<float> v = t.to_floats();
    h = fnv1a(h, v.data(), v.size() * sizeof(float));
  }
  return h;
}

// The file's format version; throws naming the file for versions this
// build cannot read (1 differs from 2 only in the checksum's order).
int format_version(const H5File& f, const std::string& path) {
  const std::string version =
      f.has_attribute("/", "format_version") ? f.get_attribute("/", "format_version") : "?";
  if (version == "1" || version == std::to_string(kCheckpointVersion))
    return version == "1" ? 1 : kCheckpointVersion;
  throw std::runtime_error(fmt::format(
      "{}: checkpoint format version {} is not supported (this attnlab reads versions 1 to {})",
      path, version, kCheckpointVersion));
}

}  // namespace

void save_checkpoint(const std::string& path, const CheckpointInfo& info, const Model& model,
                     const Optimizer* optimizer) {
  const fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  const std::string tmp = fmt::format("{}.tmp-{}", path, ::getpid());
  try {
    H5File f = H5File::create(tmp);
    f.set_attribute("/", "format", kCheckpointFormat);
    f.set_attribute("/", "format_version", std::to_string(kCheckpointVersion));
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
    write_string_list(f, "data/labels", info.labels);
    NamedTensors params = model.named_parameters();
    for (const auto& [name, t] : params) f.write<float>("params/" + name, t.to_floats(), t.shape());
    f.set_attribute("/", "checksum",
                    fmt::format("{:016x}", parameter_checksum(params, kCheckpointVersion)));
    if (optimizer) {
      f.write_string("optimizer/kind", optimizer_name(optimizer->config().kind));
      f.write<int64_t>("optimizer/steps", {optimizer->steps()}, {});
      for (const auto& [name, t] : optimizer->state())
        f.write<float>("optimizer/" + name, t.to_floats(), t.shape());
    }
    write_state(f, info.state);
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

CheckpointInfo read_checkpoint_info(const std::string& path) {
  H5File f = H5File::open_read(path);
  if (!f.has_attribute("/", "format") || f.get_attribute("/", "format") != kCheckpointFormat)
    throw std::runtime_error(fmt::format(
        "{}: not an attnlab checkpoint (the root has no format=\"{}\" attribute; is it another "
        "program's HDF5 file?)",
        path, kCheckpointFormat));
  format_version(f, path);  // refuses versions this build cannot read
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
    throw std::runtime_error(fmt::format("{}: invalid stored config: {}", path, e.what()));
  }
  try {
    validate(info.train, path);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(e.what());
  }
  try {
    info.task_kind =
        enum_from_name(data::kTaskKindNames, f.read_string("data/task_kind"), "data/task_kind");
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(fmt::format("{}: {}", path, e.what()));
  }
  info.vocab_kind = f.read_string("data/vocab_kind");
  info.vocab_tokens = read_string_list(f, "data/vocab");
  info.labels = read_string_list(f, "data/labels");
  if (int64_t(info.vocab_tokens.size()) != info.model.vocab_size)
    throw std::runtime_error(
        fmt::format("{}: the vocabulary has {} tokens but the model expects {}", path,
                    info.vocab_tokens.size(), info.model.vocab_size));
  try {
    data::Vocab::from_tokens(info.vocab_kind, info.vocab_tokens);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(
        fmt::format("{}: invalid stored vocabulary (data/vocab): {}", path, e.what()));
  }
  const bool class_head =
      info.model.family == Family::BERT || info.model.family == Family::Perceiver;
  if (class_head && int64_t(info.labels.size()) != info.model.num_classes)
    throw std::runtime_error(
        fmt::format("{}: {} labels are stored (data/labels) but the model has {} classes", path,
                    info.labels.size(), info.model.num_classes));
  if (info.task_kind == data::TaskKind::Classification && info.labels.empty())
    throw std::runtime_error(fmt::format("{}: a classifier without labels (data/labels)", path));
  info.state = read_state(f);
  return info;
}

void load_parameters(const std::string& path, Model& model) {
  H5File f = H5File::open_read(path);
  NamedTensors params = model.named_parameters();
  std::set<std::string> expected;
  for (const auto& [name, t] : params) expected.insert("params/" + name);
  for (const auto& stored : f.list_datasets("params"))
    if (!expected.count(stored))
      throw std::runtime_error(
          fmt::format("{}: '{}' is not a parameter of this {} model (checkpoint from a different "
                      "architecture?)",
                      path, stored, family_name(model.config().family)));
  NoGradGuard no_grad;
  for (auto& [name, t] : params) {
    const std::string key = "params/" + name;
    if (!f.is_dataset(key))
      throw std::runtime_error(fmt::format("{}: parameter '{}' is missing", path, key));
    std::vector<float> values;
    try {
      values = f.read<float>(key, t.shape());
    } catch (const std::runtime_error& e) {
      throw std::runtime_error(
          fmt::format("{} (the model expects {})", e.what(), shape_str(t.shape())));
    }
    for (size_t i = 0; i < values.size(); ++i)
      if (!std::isfinite(values[i]))
        throw std::runtime_error(
            fmt::format("{}: parameter '{}' holds a non-finite value at element {}", path, key, i));
    Tensor loaded = Tensor::from_vector(std::vector<double>(values.begin(), values.end()),
                                        t.shape(), t.dtype());
    std::memcpy(t.raw_data(), loaded.raw_data(), t.numel() * dtype_size(t.dtype()));
  }
  if (f.has_attribute("/", "checksum")) {
    const std::string want = f.get_attribute("/", "checksum");
    const std::string got =
        fmt::format("{:016x}", parameter_checksum(params, format_version(f, path)));
    if (model.config().dtype == DType::F32 && want != got)
      throw std::runtime_error(fmt::format(
          "{}: parameter checksum mismatch (stored {}, computed {}): the file is corrupted", path,
          want, got));
  }
}

void load_optimizer_state(const std::string& path, Optimizer& optimizer) {
  H5File f = H5File::open_read(path);
  if (!f.is_dataset("optimizer/kind"))
    throw std::runtime_error(fmt::format("{}: has no optimizer state to resume from", path));
  const std::string kind = f.read_string("optimizer/kind");
  if (kind != optimizer_name(optimizer.config().kind))
    throw std::runtime_error(fmt::format("{}: optimizer state is for '{}', but this run uses '{}'",
                                         path, kind, optimizer_name(optimizer.config().kind)));
  NamedTensors state;
  for (const auto& [name, t] : optimizer.state()) {
    const std::string key = "optimizer/" + name;
    std::vector<float> values = f.read<float>(key, t.shape());
    state.emplace_back(name, Tensor::from_vector(std::vector<double>(values.begin(), values.end()),
                                                 t.shape(), t.dtype()));
  }
  optimizer.load_state(state, f.read<int64_t>("optimizer/steps", {})[0]);
}

}  // namespace attnlab
