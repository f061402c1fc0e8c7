#include "fuzz/checkpoint_mutator.h"

#include <hdf5.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>

namespace attnlab::fuzz {
namespace {

herr_t visit_object(hid_t object, const char* name, const H5O_info_t* info, void* data) {
  auto& layout = *static_cast<CheckpointLayout*>(data);
  const std::string path = name;
  if (info->type == H5O_TYPE_DATASET) layout.datasets.push_back(path);
  const hid_t obj = H5Oopen(object, name, H5P_DEFAULT);
  if (obj < 0) return 0;
  H5O_info_t oinfo;
  if (H5Oget_info2(obj, &oinfo, H5O_INFO_NUM_ATTRS) >= 0)
    for (hsize_t i = 0; i < oinfo.num_attrs; ++i) {
      char attr[256] = {};
      if (H5Aget_name_by_idx(obj, ".", H5_INDEX_NAME, H5_ITER_INC, i, attr, sizeof attr,
                             H5P_DEFAULT) > 0)
        layout.attributes.emplace_back(path, attr);
    }
  H5Oclose(obj);
  return 0;
}

// Numbers that break naive readers: non-finite, huge, negative, zero.
double special_double(Bytes& in) {
  static const double table[] = {std::numeric_limits<double>::quiet_NaN(),
                                 std::numeric_limits<double>::infinity(),
                                 -std::numeric_limits<double>::infinity(),
                                 1e300,
                                 -1e300,
                                 1e12,
                                 0.0,
                                 -1.0,
                                 2.5,
                                 4294967296.0};
  const uint8_t pick = in.byte();
  return pick < 200 ? table[pick % std::size(table)] : in.raw<double>();
}

int64_t special_int(Bytes& in) {
  static const int64_t table[] = {0,
                                  -1,
                                  1,
                                  2,
                                  7,
                                  1000000,
                                  int64_t(1) << 31,
                                  int64_t(1) << 40,
                                  std::numeric_limits<int64_t>::max(),
                                  std::numeric_limits<int64_t>::min()};
  const uint8_t pick = in.byte();
  return pick < 200 ? table[pick % std::size(table)] : in.raw<int64_t>();
}

// A value for an attribute: checkpoints store them as strings, so most
// edits write strings (numbers as text, garbage, empty); some write another
// HDF5 type altogether.
void write_attribute(hid_t file, const std::string& object, const std::string& name, Bytes& in) {
  if (H5Aexists_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT) > 0)
    H5Adelete_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT);
  const hid_t space = H5Screate(H5S_SCALAR);
  const uint8_t kind = in.byte() % 5;
  if (kind <= 2) {
    std::string text = kind == 0   ? std::to_string(special_int(in))
                       : kind == 1 ? std::to_string(special_double(in))
                                   : in.string(24);
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, text.empty() ? 1 : text.size());
    const hid_t a = H5Acreate_by_name(file, object.c_str(), name.c_str(), type, space, H5P_DEFAULT,
                                      H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
      text.resize(std::max<std::size_t>(text.size(), 1));
      H5Awrite(a, type, text.data());
      H5Aclose(a);
    }
    H5Tclose(type);
  } else {
    const hid_t type = kind == 3 ? H5T_NATIVE_INT64 : H5T_NATIVE_DOUBLE;
    const hid_t a = H5Acreate_by_name(file, object.c_str(), name.c_str(), type, space, H5P_DEFAULT,
                                      H5P_DEFAULT, H5P_DEFAULT);
    if (a >= 0) {
      const int64_t i = special_int(in);
      const double d = special_double(in);
      H5Awrite(a, type, kind == 3 ? static_cast<const void*>(&i) : static_cast<const void*>(&d));
      H5Aclose(a);
    }
  }
  H5Sclose(space);
}

// Replaces a dataset with one of another (small) shape and element type.
void replace_dataset(hid_t file, const std::string& path, Bytes& in) {
  H5Ldelete(file, path.c_str(), H5P_DEFAULT);
  const int rank = in.byte() % 3;
  hsize_t dims[2] = {hsize_t(in.byte() % 9), hsize_t(in.byte() % 9)};
  const hid_t space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, nullptr);
  static const hid_t* types[] = {&H5T_NATIVE_FLOAT_g, &H5T_NATIVE_DOUBLE_g, &H5T_NATIVE_INT32_g,
                                 &H5T_NATIVE_INT64_g, &H5T_NATIVE_UINT8_g,  &H5T_NATIVE_SHORT_g};
  H5open();
  const hid_t type = *types[in.byte() % std::size(types)];
  const hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  const hid_t d = H5Dcreate2(file, path.c_str(), type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  if (d >= 0) {
    const hssize_t n = H5Sget_simple_extent_npoints(space);
    std::vector<double> values(std::size_t(std::max<hssize_t>(n, 0)));
    for (double& v : values) v = special_double(in);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
    H5Dclose(d);
  }
  H5Pclose(lcpl);
  H5Sclose(space);
}

// All the stored bytes of a numeric dataset (empty if it cannot be read).
std::vector<unsigned char> stored_bytes(hid_t file, const std::string& path) {
  std::vector<unsigned char> bytes;
  const hid_t d = H5Dopen2(file, path.c_str(), H5P_DEFAULT);
  if (d < 0) return bytes;
  const hid_t space = H5Dget_space(d), type = H5Dget_type(d);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n > 0) {
    bytes.resize(std::size_t(n) * H5Tget_size(type));
    if (H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()) < 0) bytes.clear();
  }
  H5Tclose(type);
  H5Sclose(space);
  H5Dclose(d);
  return bytes;
}

// Writes one element of an existing numeric dataset, keeping its type and
// shape. Returns whether the stored bytes changed.
bool poke_dataset(hid_t file, const std::string& path, Bytes& in) {
  const hid_t d = H5Dopen2(file, path.c_str(), H5P_DEFAULT);
  if (d < 0) return false;
  bool changed = false;
  const hid_t space = H5Dget_space(d);
  const hid_t type = H5Dget_type(d);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  const H5T_class_t cls = H5Tget_class(type);
  const size_t size = H5Tget_size(type);
  if (n > 0 && (cls == H5T_FLOAT || cls == H5T_INTEGER) && size <= 8) {
    std::vector<unsigned char> bytes(std::size_t(n) * size);
    if (H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()) >= 0) {
      const std::size_t at = std::size_t(in.raw<uint32_t>() % uint64_t(n)) * size;
      std::vector<unsigned char> before(bytes.begin() + at, bytes.begin() + at + size);
      const uint8_t how = in.byte() % 3;
      if (how == 0) {  // one bit
        const uint8_t bit = in.byte() % (8 * size);
        bytes[at + bit / 8] ^= uint8_t(1u << (bit % 8));
      } else if (cls == H5T_FLOAT && size == 4) {
        const float f = float(special_double(in));
        std::memcpy(&bytes[at], &f, 4);
      } else if (cls == H5T_FLOAT && size == 8) {
        const double v = special_double(in);
        std::memcpy(&bytes[at], &v, 8);
      } else {
        const int64_t v = special_int(in);
        std::memcpy(&bytes[at], &v, size);  // little-endian: the low bytes
      }
      changed = !std::equal(before.begin(), before.end(), bytes.begin() + at);
      if (H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()) < 0) changed = false;
    }
  }
  H5Tclose(type);
  H5Sclose(space);
  H5Dclose(d);
  return changed;
}

bool is_tensor(const std::string& path) {
  return path.rfind("params/", 0) == 0 || path.rfind("optimizer/", 0) == 0;
}

}  // namespace

CheckpointLayout survey_checkpoint(const std::string& path) {
  CheckpointLayout layout;
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) return layout;
  H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_INC, visit_object, &layout, H5O_INFO_BASIC);
  H5Fclose(file);
  return layout;
}

EditReport edit_checkpoint(const std::string& path, const CheckpointLayout& layout, Bytes& program,
                           Edits kind) {
  EditReport report;
  std::vector<std::pair<uint32_t, uint8_t>> flips;
  std::map<std::string, std::vector<unsigned char>> before;  // a poked tensor's first bytes
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (file < 0) return report;
  for (int edits = 0; !program.empty() && edits < 8; ++edits) {
    ++report.edits;
    const uint8_t op = program.byte() % 6;
    const auto pick_dataset = [&]() -> const std::string& {
      return layout.datasets[program.raw<uint16_t>() % layout.datasets.size()];
    };
    if (op == 0) {
      const uint32_t offset = program.raw<uint32_t>();
      const uint8_t mask = uint8_t(program.byte() | 1);
      if (kind == Edits::AlsoRawBytes) flips.emplace_back(offset, mask);
    } else if (op == 1 && !layout.attributes.empty()) {
      const auto& [object, name] =
          layout.attributes[program.raw<uint16_t>() % layout.attributes.size()];
      write_attribute(file, object, name, program);
    } else if (op == 2 && !layout.datasets.empty()) {
      const std::string& path_in_file = pick_dataset();
      report.changed_tensors.erase(path_in_file);
      before.erase(path_in_file);
      replace_dataset(file, path_in_file, program);
    } else if (op == 3 && !layout.attributes.empty()) {
      const auto& [object, name] =
          layout.attributes[program.raw<uint16_t>() % layout.attributes.size()];
      H5Adelete_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT);
    } else if (op == 4 && !layout.datasets.empty()) {
      const std::string& path_in_file = pick_dataset();
      report.changed_tensors.erase(path_in_file);
      before.erase(path_in_file);
      H5Ldelete(file, path_in_file.c_str(), H5P_DEFAULT);
    } else if (op == 5 && !layout.datasets.empty()) {
      const std::string& path_in_file = pick_dataset();
      if (is_tensor(path_in_file) && !report.changed_tensors.count(path_in_file))
        before.emplace(path_in_file, stored_bytes(file, path_in_file));
      if (poke_dataset(file, path_in_file, program) && is_tensor(path_in_file))
        report.changed_tensors.insert(path_in_file);
    }
  }
  // A second poke may undo the first (the same bit flipped twice): only a
  // tensor whose bytes differ at the end is claimed as changed.
  for (auto it = report.changed_tensors.begin(); it != report.changed_tensors.end();)
    it = stored_bytes(file, *it) == before[*it] ? report.changed_tensors.erase(it) : std::next(it);
  H5Fclose(file);
  if (!flips.empty()) {  // raw flips last: they may break what HDF5 wrote
    std::fstream io(path, std::ios::binary | std::ios::in | std::ios::out);
    std::vector<char> bytes{std::istreambuf_iterator<char>(io), std::istreambuf_iterator<char>()};
    if (!bytes.empty()) {
      for (const auto& [offset, mask] : flips) bytes[offset % bytes.size()] ^= char(mask);
      io.seekp(0);
      io.write(bytes.data(), std::streamsize(bytes.size()));
    }
    report.changed_tensors.clear();  // a flip may land anywhere: no claim about the tensors
  }
  return report;
}

}  // namespace attnlab::fuzz
