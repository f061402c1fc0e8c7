// The checkpoint checksums written out as a reader of docs/checkpoint.md
// would, independently of train/checkpoint.cpp: tests compare the stored
// checksums with these, and seal files they edit on purpose with them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "io/hdf5.h"

namespace attnlab::documented {

// FNV-1a, 64 bits.
struct Fnv {
  uint64_t h = 0xcbf29ce484222325ull;
  void feed(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  }
  void feed_length(uint64_t n) { feed(&n, sizeof n); }  // 8 bytes, little-endian here
};

// From format 5 the format version as 8 bytes; then each parameter's path
// below params/ and its float32 bytes, in the order of `paths` (sorted since
// format 2; registration order in format 1).
inline uint64_t parameter_checksum(const H5File& f, const std::vector<std::string>& paths,
                                   int64_t format_version) {
  Fnv fnv;
  if (format_version >= 5) fnv.feed(&format_version, sizeof format_version);
  for (const std::string& path : paths) {
    const std::string name = path.substr(std::string("params/").size());
    fnv.feed(name.data(), name.size());
    const auto values = f.read<float>(path);
    fnv.feed(values.values.data(), values.values.size() * sizeof(float));
  }
  return fnv.h;
}

// optimizer/kind's bytes, optimizer/steps as 8 bytes, then each state
// tensor's path below optimizer/ and its float32 bytes, in sorted path order.
inline uint64_t optimizer_checksum(const H5File& f) {
  Fnv fnv;
  const std::string kind = f.read_string("optimizer/kind");
  fnv.feed(kind.data(), kind.size());
  const int64_t steps = f.read<int64_t>("optimizer/steps").values.at(0);
  fnv.feed(&steps, sizeof steps);
  std::vector<std::string> paths;
  for (const std::string& path : f.list_datasets("optimizer"))
    if (path != "optimizer/kind" && path != "optimizer/steps") paths.push_back(path);
  std::sort(paths.begin(), paths.end());
  for (const std::string& path : paths) {
    const std::string name = path.substr(std::string("optimizer/").size());
    fnv.feed(name.data(), name.size());
    const auto values = f.read<float>(path);
    fnv.feed(values.values.data(), values.values.size() * sizeof(float));
  }
  return fnv.h;
}

// Format 4's info_checksum: the attributes of /, model_config and
// train_config (the root's three checksums left out), each as
// "<group>@<name>" and a zero byte, its value's length in 8 bytes and the
// value; then every dataset under data, model_config, state and
// train_config in sorted path order, as its path and a zero byte, its byte
// count in 8 bytes and its bytes (a string's UTF-8, numbers as stored).
inline uint64_t info_checksum(const H5File& f) {
  Fnv fnv;
  const auto name = [&](const std::string& text) { fnv.feed(text.c_str(), text.size() + 1); };
  const auto bytes = [&](const void* data, size_t n) {
    fnv.feed_length(n);
    fnv.feed(data, n);
  };
  for (const std::string group : {"/", "model_config", "train_config"})
    for (const std::string& attribute : f.attribute_names(group)) {
      if (group == "/" && (attribute == "checksum" || attribute == "optimizer_checksum" ||
                           attribute == "info_checksum"))
        continue;
      name(group + "@" + attribute);
      const std::string value = f.get_attribute(group, attribute);
      bytes(value.data(), value.size());
    }
  std::vector<std::string> paths;
  for (const char* group : {"data", "model_config", "state", "train_config"})
    for (const std::string& path : f.list_datasets(group)) paths.push_back(path);
  std::sort(paths.begin(), paths.end());
  for (const std::string& path : paths) {
    name(path);
    const std::string type = f.element_type(path);
    if (type == "strings") {
      const std::string text = f.read_string(path);
      bytes(text.data(), text.size());
    } else if (type == "int64 values") {
      const auto v = f.read<int64_t>(path).values;
      bytes(v.data(), v.size() * sizeof(int64_t));
    } else if (type == "uint8 values") {
      const auto v = f.read<uint8_t>(path).values;
      bytes(v.data(), v.size());
    } else {
      const auto v = f.read<double>(path).values;
      bytes(v.data(), v.size() * sizeof(double));
    }
  }
  return fnv.h;
}

// Seals a checkpoint edited on purpose, so that a test reaches the checks
// behind the info checksum.
inline void seal_info(H5File& f) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(info_checksum(f)));
  f.set_attribute("/", "info_checksum", hex);
}

}  // namespace attnlab::documented
