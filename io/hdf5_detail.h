// The pieces of H5File's implementation that are not H5File itself: an RAII
// handle for HDF5 identifiers, error reporting, slash paths, element types
// and the checked reading of shapes and strings. For io/ only; the rest of
// attnlab sees io/hdf5.h.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace attnlab::h5 {

// One HDF5 identifier, closed by the matching H5*close on scope exit.
class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*closer)(hid_t)) : id_(id), closer_(closer) {}
  Handle(Handle&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      closer_ = o.closer_;
      o.id_ = -1;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset() {
    if (id_ >= 0 && closer_) closer_(id_);
    id_ = -1;
  }

 private:
  hid_t id_ = -1;
  herr_t (*closer_)(hid_t) = nullptr;
};

// HDF5 prints its error stack to stderr by default; we report through
// exceptions instead. Called on every open, since the setting is global.
void silence_hdf5();
// The most specific message on HDF5's error stack (e.g. "truncated file:
// eof = 1024, ..."), as " (HDF5: ...)" to append to our own message so the
// root cause is not lost; "" when the stack is empty. Clears the stack.
std::string hdf5_reason();
// Throws std::runtime_error("<file>: <what>").
[[noreturn]] void fail(const std::string& file, const std::string& what);

// ---- paths ---------------------------------------------------------------------------
// "a/b", "/a/b/" -> {"a", "b"}; "/" and "" -> {} (the root). Refuses '.',
// '..' and empty components, naming `file`.
std::vector<std::string> split_path(const std::string& file, const std::string& path);
// The first `count` parts as an absolute HDF5 path; the root is "/".
std::string h5_path(const std::vector<std::string>& parts, size_t count);
std::string h5_path(const std::vector<std::string>& parts);
// The path as messages show it: no leading '/', the root as "/".
std::string shown(const std::vector<std::string>& parts);
// What lives at `parts`: H5I_GROUP, H5I_DATASET, or H5I_BADID when nothing does.
H5I_type_t object_type(hid_t file, const std::vector<std::string>& parts);
// Opens the object at `parts`, which must be of type `want` (H5I_BADID: any).
Handle open_object(const std::string& file, hid_t fid, const std::vector<std::string>& parts,
                   H5I_type_t want);
// Creates the groups above a new object at `parts`, refusing to go through
// (or replace) a dataset.
void make_parents(const std::string& file, hid_t fid, const std::vector<std::string>& parts);
// Identifies a group independently of the path it was reached by ("" if
// HDF5 cannot say), so that a listing can stop at link cycles.
std::string object_identity(hid_t obj);

// ---- element types -------------------------------------------------------------------
// The HDF5 type in memory, the portable type on disk, and a name.
template <typename T>
struct Element;
template <>
struct Element<double> {
  static hid_t mem() { return H5T_NATIVE_DOUBLE; }
  static hid_t disk() { return H5T_IEEE_F64LE; }
  static constexpr const char* name = "float64";
};
template <>
struct Element<float> {
  static hid_t mem() { return H5T_NATIVE_FLOAT; }
  static hid_t disk() { return H5T_IEEE_F32LE; }
  static constexpr const char* name = "float32";
};
template <>
struct Element<int32_t> {
  static hid_t mem() { return H5T_NATIVE_INT32; }
  static hid_t disk() { return H5T_STD_I32LE; }
  static constexpr const char* name = "int32";
};
template <>
struct Element<int64_t> {
  static hid_t mem() { return H5T_NATIVE_INT64; }
  static hid_t disk() { return H5T_STD_I64LE; }
  static constexpr const char* name = "int64";
};
template <>
struct Element<uint8_t> {
  static hid_t mem() { return H5T_NATIVE_UINT8; }
  static hid_t disk() { return H5T_STD_U8LE; }
  static constexpr const char* name = "uint8";
};

// "float32 values", "strings", ...: what a stored type holds, for messages.
std::string describe_type(hid_t type);

// Empty if a stored `type` reads as T without losing meaning, else why not.
// HDF5 would happily convert float to int (truncating) or int64 to int32
// (clipping); a checkpoint or reference file where that happens is wrong.
template <typename T>
std::string conversion_problem(hid_t type) {
  const H5T_class_t cls = H5Tget_class(type);
  if (cls == H5T_FLOAT) {
    if constexpr (std::is_floating_point_v<T>) {
      if (H5Tget_size(type) <= sizeof(T)) return "";
      return "reading them as " + std::string(Element<T>::name) + " would round them";
    }
    return "reading them as " + std::string(Element<T>::name) + " would truncate";
  }
  if (cls == H5T_INTEGER) {
    if constexpr (std::is_floating_point_v<T>) {
      // Every integer of a narrower type is exact in float32 (up to 16 bits)
      // and in float64 (up to 32 bits).
      if (H5Tget_size(type) < sizeof(T)) return "";
      return "reading them as " + std::string(Element<T>::name) + " could round them";
    } else {
      const size_t size = H5Tget_size(type);
      const bool file_signed = H5Tget_sign(type) != H5T_SGN_NONE;
      const bool fits =
          file_signed == std::is_signed_v<T> ? size <= sizeof(T) : !file_signed && size < sizeof(T);
      if (fits) return "";
      return "they do not all fit " + std::string(Element<T>::name);
    }
  }
  return "they cannot be read as " + std::string(Element<T>::name);
}

// ---- checked reads -------------------------------------------------------------------
// The shape of a dataspace ({} for a scalar); `where` names the object in messages.
std::vector<int64_t> space_shape(const std::string& file, const std::string& where, hid_t space);
// The number of values in a dataset of `shape`, refused unless the file
// really stores them, so that a damaged shape cannot decide how much memory
// is allocated.
size_t stored_value_count(const std::string& file, hid_t fid, const std::string& where, hid_t dset,
                          hid_t type, const std::vector<int64_t>& shape);
// A variable-length string type of the given character set.
Handle variable_string_type(H5T_cset_t cset = H5T_CSET_UTF8);
// Reads the single string held by a dataset or attribute of string `type`
// (variable-length as we and h5py write them, or fixed-length as NumPy bytes
// arrays are stored).
std::string read_one_string(const std::string& file, const std::string& where, hid_t obj,
                            bool is_attribute, hid_t type, hid_t space);

}  // namespace attnlab::h5
