#include "io/hdf5_detail.h"

#include <fmt/format.h>

#include <limits>
#include <stdexcept>

#include "autograd/shape.h"
#include "io/file_checks.h"

namespace attnlab::h5 {

void silence_hdf5() {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

std::string hdf5_reason() {
  std::string innermost;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned n, const H5E_error2_t* err, void* data) -> herr_t {
        if (n == 0 && err && err->desc) *static_cast<std::string*>(data) = err->desc;
        return 0;
      },
      &innermost);
  H5Eclear2(H5E_DEFAULT);
  return innermost.empty() ? "" : " (HDF5: " + innermost + ")";
}

[[noreturn]] void fail(const std::string& file, const std::string& what) {
  throw std::runtime_error(fmt::format("{}: {}", file, what));
}

std::vector<std::string> split_path(const std::string& file, const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string part = path.substr(start, end - start);
    if (part == "." || part == "..")
      fail(file, fmt::format("path '{}' must not contain '.' or '..' components", path));
    if (!part.empty()) parts.push_back(std::move(part));
    start = end + 1;
  }
  // "a//b" is almost certainly a bug in the caller's path joining.
  if (path.find("//") != std::string::npos)
    fail(file, fmt::format("path '{}' has an empty component", path));
  return parts;
}

std::string h5_path(const std::vector<std::string>& parts, size_t count) {
  std::string p;
  for (size_t i = 0; i < count; ++i) p += "/" + parts[i];
  return p.empty() ? "/" : p;
}
std::string h5_path(const std::vector<std::string>& parts) {
  return h5_path(parts, parts.size());
}

std::string shown(const std::vector<std::string>& parts) {
  std::string p = h5_path(parts);
  return p == "/" ? p : p.substr(1);
}

// Walks prefixes because H5Lexists fails (rather than answering "no")
// when an intermediate group is missing.
H5I_type_t object_type(hid_t file, const std::vector<std::string>& parts) {
  if (parts.empty()) return H5I_GROUP;
  for (size_t i = 1; i <= parts.size(); ++i) {
    if (H5Lexists(file, h5_path(parts, i).c_str(), H5P_DEFAULT) <= 0) {
      H5Eclear2(H5E_DEFAULT);
      return H5I_BADID;
    }
  }
  Handle obj(H5Oopen(file, h5_path(parts).c_str(), H5P_DEFAULT), H5Oclose);
  if (!obj.valid()) {
    H5Eclear2(H5E_DEFAULT);
    return H5I_BADID;
  }
  return H5Iget_type(obj.get());
}

std::string describe_type(hid_t type) {
  const size_t size = H5Tget_size(type);
  switch (H5Tget_class(type)) {
    case H5T_FLOAT:
      return fmt::format("float{} values", 8 * size);
    case H5T_INTEGER:
      return fmt::format("{}int{} values", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", 8 * size);
    case H5T_STRING:
      return "strings";
    case H5T_ENUM:
      return "enum values";
    case H5T_COMPOUND:
      return "compound records";
    default:
      return "values of an unsupported HDF5 type";
  }
}

std::vector<int64_t> space_shape(const std::string& file, const std::string& where, hid_t space) {
  const H5S_class_t cls = H5Sget_simple_extent_type(space);
  if (cls == H5S_SCALAR) return {};
  if (cls != H5S_SIMPLE) fail(file, fmt::format("{} has no data (null dataspace)", where));
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank < 0) fail(file, fmt::format("cannot read the shape of {}{}", where, hdf5_reason()));
  std::vector<hsize_t> dims(rank);
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return std::vector<int64_t>(dims.begin(), dims.end());
}

// The number of values in a dataset of `shape`, refused unless the file
// really stores them. The shape comes from the file, and a damaged or hostile
// one (2^36 values declared in a 200 KB file, with no storage allocated) must
// not decide how much memory is allocated. Compressed data may be smaller
// than its values, up to kMaxCompression times; what the file claims to
// store cannot exceed the file. (So data that HDF5 would make up, such as a
// dataset's unwritten chunks filled with its fill value, or data stored in
// other files, is refused: attnlab never writes such datasets.)
size_t stored_value_count(const std::string& file, hid_t fid, const std::string& where, hid_t dset,
                          hid_t type, const std::vector<int64_t>& shape) {
  constexpr uint64_t kMaxCompression = 1024;
  const auto too_many = [&] {
    fail(file, fmt::format("{} has shape {}: too many values to hold", where, shape_str(shape)));
  };
  uint64_t count = 1, bytes = 0;
  for (int64_t d : shape)
    if (d < 0 || __builtin_mul_overflow(count, uint64_t(d), &count)) too_many();
  if (count > uint64_t(std::numeric_limits<int64_t>::max()) ||
      __builtin_mul_overflow(count, uint64_t(H5Tget_size(type)), &bytes))
    too_many();
  const uint64_t stored = H5Dget_storage_size(dset);
  hsize_t file_size = 0;
  if (H5Fget_filesize(fid, &file_size) < 0) file_size = 0;
  Handle dcpl(H5Dget_create_plist(dset), H5Pclose);
  const bool compressed = dcpl.valid() && H5Pget_nfilters(dcpl.get()) > 0;
  uint64_t can_hold = 0;
  if (__builtin_mul_overflow(stored, compressed ? kMaxCompression : 1, &can_hold))
    can_hold = std::numeric_limits<uint64_t>::max();
  if (stored > file_size || bytes > can_hold)
    fail(file,
         fmt::format(
             "{} has shape {} ({} bytes) but the file stores {} bytes of it{}{}: "
             "the file is damaged",
             where, shape_str(shape), bytes, stored, compressed ? " compressed" : "",
             stored > file_size ? fmt::format(", more than the file's {} bytes", file_size) : ""));
  return size_t(count);
}

Handle open_object(const std::string& file, hid_t fid, const std::vector<std::string>& parts,
                   H5I_type_t want) {
  const H5I_type_t type = object_type(fid, parts);
  const char* kind = want == H5I_DATASET ? "dataset" : want == H5I_GROUP ? "group" : "object";
  if (type == H5I_BADID) fail(file, fmt::format("{} '{}' not found", kind, shown(parts)));
  if (want != H5I_BADID && type != want)
    fail(file, fmt::format("'{}' is a {}, not a {}", shown(parts),
                           type == H5I_GROUP ? "group" : "dataset", kind));
  Handle obj(H5Oopen(fid, h5_path(parts).c_str(), H5P_DEFAULT), H5Oclose);
  if (!obj.valid()) fail(file, fmt::format("cannot open '{}'{}", shown(parts), hdf5_reason()));
  return obj;
}

void make_parents(const std::string& file, hid_t fid, const std::vector<std::string>& parts) {
  for (size_t i = 1; i < parts.size(); ++i) {
    std::vector<std::string> prefix(parts.begin(), parts.begin() + i);
    const H5I_type_t type = object_type(fid, prefix);
    if (type == H5I_GROUP) continue;
    if (type != H5I_BADID)
      fail(file, fmt::format("cannot create '{}': '{}' is a dataset, not a group", shown(parts),
                             shown(prefix)));
    Handle g(H5Gcreate2(fid, h5_path(prefix).c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
             H5Gclose);
    if (!g.valid())
      fail(file, fmt::format("cannot create group '{}'{}", shown(prefix), hdf5_reason()));
  }
}

Handle variable_string_type(H5T_cset_t cset) {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t.get(), H5T_VARIABLE);
  H5Tset_cset(t.get(), cset);
  return t;
}

std::string read_one_string(const std::string& file, const std::string& where, hid_t obj,
                            bool is_attribute, hid_t type, hid_t space) {
  const int64_t count = shape_numel(space_shape(file, where, space));
  if (count != 1) fail(file, fmt::format("{} holds {} strings, expected one", where, count));
  auto do_read = [&](hid_t mem, void* buf) {
    return is_attribute ? H5Aread(obj, mem, buf)
                        : H5Dread(obj, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  };
  const H5T_cset_t cset = H5Tget_cset(type);
  if (H5Tis_variable_str(type) > 0) {
    if (!is_attribute) check_string_reference(file, where, obj);
    Handle mem = variable_string_type(cset);
    char* buf = nullptr;
    if (do_read(mem.get(), &buf) < 0)
      fail(file, fmt::format("cannot read {}{}", where, hdf5_reason()));
    std::string out = buf ? buf : "";
    H5free_memory(buf);
    return out;
  }
  // A fixed-length string's size comes from the file: up to 4 GiB.
  constexpr size_t kMaxFixedString = size_t(1) << 20;
  const size_t size = H5Tget_size(type);
  if (size > kMaxFixedString)
    fail(file, fmt::format("{} holds a fixed-length string of {} bytes; attnlab reads at most {}",
                           where, size, kMaxFixedString));
  Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(mem.get(), size);
  H5Tset_cset(mem.get(), cset);
  H5Tset_strpad(mem.get(), H5Tget_strpad(type));
  std::string out(size, '\0');
  if (do_read(mem.get(), out.data()) < 0)
    fail(file, fmt::format("cannot read {}{}", where, hdf5_reason()));
  if (H5Tget_strpad(type) == H5T_STR_SPACEPAD) {
    out.erase(out.find_last_not_of(' ') + 1);
  } else if (size_t nul = out.find('\0'); nul != std::string::npos) {
    out.resize(nul);
  }
  return out;
}

// Link cycles are legal in HDF5, and what a corrupted file often looks like.
std::string object_identity(hid_t obj) {
#if H5_VERSION_GE(1, 12, 0)
  H5O_info2_t info;
  if (H5Oget_info3(obj, &info, H5O_INFO_BASIC) < 0) return "";
  return std::string(reinterpret_cast<const char*>(&info.token), sizeof info.token);
#else
  H5O_info_t info;
  if (H5Oget_info2(obj, &info, H5O_INFO_BASIC) < 0) return "";
  return std::to_string(info.addr);
#endif
}

}  // namespace attnlab::h5
