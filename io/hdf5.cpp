#include "io/hdf5.h"

#include <fmt/format.h>
#include <hdf5.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <limits>
#include <memory>
#include <set>
#include <stdexcept>
#include <string_view>
#include <tuple>
#include <type_traits>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

#include "autograd/shape.h"
#include "common/sanitizers.h"

extern char** environ;

namespace attnlab {

// The header stores hid_t as int64_t to keep hdf5.h private.
static_assert(std::is_same_v<hid_t, int64_t>, "attnlab expects HDF5 >= 1.10 (64-bit hid_t)");

namespace {

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
void silence_hdf5() {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

// The most specific message on HDF5's error stack (e.g. "truncated file:
// eof = 1024, ..."), appended to our own so the root cause is not lost.
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

// "a/b", "/a/b/" -> {"a", "b"}; "/" and "" -> {} (the root).
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

// The path as messages show it: no leading '/', the root as "/".
std::string shown(const std::vector<std::string>& parts) {
  std::string p = h5_path(parts);
  return p == "/" ? p : p.substr(1);
}

// What lives at `parts`: H5I_GROUP, H5I_DATASET, or H5I_BADID when nothing
// does. Walks prefixes because H5Lexists fails (rather than answering "no")
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

// Element types: the HDF5 type in memory, the portable type on disk, a name.
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

// Creates the groups above a new object at `parts`, refusing to go through
// (or replace) a dataset.
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

Handle variable_string_type(H5T_cset_t cset = H5T_CSET_UTF8) {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t.get(), H5T_VARIABLE);
  H5Tset_cset(t.get(), cset);
  return t;
}

// Reads the single string held by a dataset or attribute of string `type`
// (variable-length as we and h5py write them, or fixed-length as NumPy bytes
// arrays are stored).
void check_string_reference(const std::string& path, const std::string& where, hid_t dset);

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

// Identifies a group independently of the path it was reached by, so that a
// listing can stop at link cycles (legal in HDF5, and what a corrupted file
// often looks like) instead of recursing forever.
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

// HDF5's own metadata checksum (Bob Jenkins' lookup3). Exported by the
// library since 1.8.7, though declared only in its private headers.
extern "C" uint32_t H5_checksum_metadata(const void* data, size_t len, uint32_t initval);

// H5Fget_file_image clears the superblock's "open for writing" flag in the
// image it returns, but HDF5 1.10 leaves the superblock checksum as it was
// (computed with the flag set), so the image would not open. Version 2 and 3
// superblocks end in that checksum: recompute it over the bytes before it.
void fix_superblock_checksum(std::vector<char>& image) {
  if (image.size() < 12 || image[8] < 2) return;  // version 0 and 1: no checksum
  const size_t offsets = static_cast<unsigned char>(image[9]);
  const size_t checked = 12 + 4 * offsets;  // signature ... root object address
  if (image.size() < checked + 4) return;
  const uint32_t sum = H5_checksum_metadata(image.data(), checked, 0);
  for (size_t i = 0; i < 4; ++i) image[checked + i] = char((sum >> (8 * i)) & 0xff);
}

// ---- reading a damaged file without crashing -------------------------------------
//
// HDF5 trusts a file's structure: some damaged bytes (a length in a global
// heap, where variable-length strings live, has no checksum) make it free
// memory it never allocated, and the process dies. So before a file is
// opened, a separate process walks its structure: every object, every
// attribute, every dataset's type and shape, and every single string and
// small attribute value (what the loader reads before its own checks). If
// HDF5 kills that process, or the walk does not end in time, the file is
// refused; only a file HDF5 can walk is opened here.
//
// The walker is a fresh copy of this program (/proc/self/exe) started with
// kWalkerArgument, which walk_if_asked() serves before main. A fork without
// exec would be cheaper to write but not safe: the child of a multithreaded
// process (OpenMP's workers, a sanitizer's or fuzzer's threads) may only call
// async-signal-safe functions, and HDF5 allocates. Such a child deadlocked in
// CI, and its parent waited forever.
//
// The walker reports on file descriptor kReportFd: kWalkStarted once it runs,
// kWalkDone once the walk and HDF5's shutdown are over. A process that never
// said it started was not a walker (no /proc, a program started through
// ld.so or an emulator): then the file is read without the walk, with a
// warning.

constexpr const char* kWalkerArgument = "--attnlab-internal-walk-hdf5";
constexpr const char* kWalkSecondsVariable = "ATTNLAB_HDF5_WALK_SECONDS";
// Makes the walker die as HDF5 does on a damaged file: for tests only.
constexpr const char* kWalkerCrashVariable = "ATTNLAB_HDF5_WALKER_CRASH_FOR_TEST";
constexpr double kDefaultWalkSeconds = 60;
constexpr int kReportFd = 3;
constexpr char kWalkStarted = 'S', kWalkDone = 'D';

// Reads the variable-length string of a one-element attribute or dataset,
// as read_one_string() does, and frees it.
void walk_string(hid_t object, bool is_attribute, hid_t type) {
  const hid_t mem = H5Tcopy(H5T_C_S1);
  H5Tset_size(mem, H5T_VARIABLE);
  H5Tset_cset(mem, H5Tget_cset(type));  // as the real read does: HDF5 converts no cset
  char* text = nullptr;
  const herr_t read = is_attribute ? H5Aread(object, mem, &text)
                                   : H5Dread(object, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text);
  if (read >= 0 && text) H5free_memory(text);
  H5Tclose(mem);
}

bool is_one_variable_string(hid_t type, hssize_t n) {
  return H5Tget_class(type) == H5T_STRING && H5Tis_variable_str(type) > 0 && n == 1;
}

herr_t walk_attribute(hid_t object, const char* name, const H5A_info_t*, void*) {
  const hid_t attr = H5Aopen(object, name, H5P_DEFAULT);
  if (attr < 0) return 0;
  const hid_t type = H5Aget_type(attr), space = H5Aget_space(attr);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  if (is_one_variable_string(type, n)) {
    walk_string(attr, /*is_attribute=*/true, type);
  } else if (n > 0 && n < (1 << 20) && H5Tget_size(type) <= 64) {
    std::vector<char> buf(size_t(n) * H5Tget_size(type));
    H5Aread(attr, type, buf.data());
  }
  H5Sclose(space);
  H5Tclose(type);
  H5Aclose(attr);
  return 0;
}

herr_t walk_object(hid_t root, const char* name, const H5O_info_t* info, void*) {
  const hid_t object = H5Oopen(root, name, H5P_DEFAULT);
  if (object < 0) return 0;
  H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_INC, nullptr, walk_attribute, nullptr);
  if (info->type == H5O_TYPE_DATASET) {
    const hid_t type = H5Dget_type(object), space = H5Dget_space(object);
    if (is_one_variable_string(type, H5Sget_simple_extent_npoints(space)))
      walk_string(object, /*is_attribute=*/false, type);
    H5Sclose(space);
    H5Tclose(type);
  }
  H5Oclose(object);
  return 0;
}

void report(char what) {
  while (::write(kReportFd, &what, 1) < 0 && errno == EINTR) {
  }
}

// The walker's whole life: argv is {name, kWalkerArgument, path, parent pid}.
// It exits 0 whatever HDF5 reports (the real open reports errors); only
// dying counts. glibc passes main's arguments to constructors.
// A walk needs the file's structure in memory, a few megabytes; damage can
// make HDF5 ask for far more (fuzz_checkpoint_bytes found a damaged file
// that made the walker grow to 3.5 GB over 23 s). The walker's address space
// is bounded by 1 GiB plus the file's size: past it HDF5's allocations fail
// and the walk ends, refusing the file or leaving it to attnlab's own
// checks. Not under AddressSanitizer or ThreadSanitizer, whose shadow memory
// alone reserves terabytes of address space (under ASan, ASan's own RSS limit
// applies, below; under TSan, a development build, nothing does).
void limit_walker_memory(const char* path) {
#ifndef ATTNLAB_SHADOW_MEMORY
  struct stat st {};
  const rlim_t file_bytes = ::stat(path, &st) == 0 ? rlim_t(st.st_size) : 0;
  const rlimit bound{(rlim_t(1) << 30) + file_bytes, (rlim_t(1) << 30) + file_bytes};
  ::setrlimit(RLIMIT_AS, &bound);
#else
  (void)path;
#endif
}

__attribute__((constructor)) void walk_if_asked(int argc, char** argv, char**) {
  if (argc != 4 || std::strcmp(argv[1], kWalkerArgument) != 0) return;
  // Die with the parent (a killed attnlab leaves no walker behind); if the
  // parent is already gone, stop now.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != std::atoi(argv[3])) ::_exit(0);
  report(kWalkStarted);
  if (std::getenv(kWalkerCrashVariable)) std::abort();
  limit_walker_memory(argv[2]);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t f = H5Fopen(argv[2], H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f >= 0) {
    H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_INC, walk_object, nullptr, H5O_INFO_BASIC);
    H5Fclose(f);
  }
  H5close();  // some damage shows only when the library frees what it read
  report(kWalkDone);
  ::_exit(0);
}

double walk_seconds() {
  const char* text = std::getenv(kWalkSecondsVariable);
  if (!text || !*text) return kDefaultWalkSeconds;
  char* end = nullptr;
  const double seconds = std::strtod(text, &end);
  if (*end != '\0' || !(seconds > 0) || !std::isfinite(seconds))
    throw std::runtime_error(fmt::format(
        "environment variable {}='{}': expected a positive number of seconds (default {})",
        kWalkSecondsVariable, text, kDefaultWalkSeconds));
  return seconds;
}

std::string describe_exit(int status) {
  return WIFSIGNALED(status) ? fmt::format("signal {}", WTERMSIG(status))
                             : fmt::format("exit {}", WEXITSTATUS(status));
}

// The walk cannot run here: say so once, and read files directly, as HDF5
// alone would.
void warn_unwalked(const std::string& path, const std::string& why) {
  static bool warned = false;
  if (warned) return;
  warned = true;
  std::fprintf(stderr,
               "attnlab: warning: HDF5 files cannot be checked in a separate process before "
               "they are read (%s); reading '%s' without that check\n",
               why.c_str(), path.c_str());
}

// A started walker: its pid and the read end of its report pipe.
struct Walker {
  pid_t pid = -1;
  int reports = -1;
};

// Starts the walker on path; pid -1 if no process could be started (errno).
Walker start_walker(const std::string& path) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return {};
  // Keep the write end off kReportFd itself: a dup2 onto the same number
  // would keep its close-on-exec flag.
  const int write_end = ::fcntl(pipe_fds[1], F_DUPFD_CLOEXEC, kReportFd + 1);
  ::close(pipe_fds[1]);
  if (write_end < 0) {
    ::close(pipe_fds[0]);
    return {};
  }
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  // Quiet: HDF5's errors and a sanitizer's or glibc's report of the death
  // belong to no one. Only the report pipe stays open: a walker that holds
  // a pipe of attnlab's (a test runner's output) would keep its reader
  // waiting.
  for (int fd : {STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO})
    posix_spawn_file_actions_addopen(&files, fd, "/dev/null",
                                     fd == STDIN_FILENO ? O_RDONLY : O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&files, write_end, kReportFd);  // dup2 drops O_CLOEXEC
  posix_spawn_file_actions_addclosefrom_np(&files, kReportFd + 1);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // Its own session: Ctrl-C goes to attnlab, which decides (the walker would
  // otherwise die of it and make the file look damaged), and no terminal
  // receives glibc's "double free" message.
  sigset_t none, every;
  sigemptyset(&none);
  sigfillset(&every);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &every);

  const std::string parent = std::to_string(::getpid());
  std::vector<char*> argv{const_cast<char*>("attnlab-hdf5-walker"),
                          const_cast<char*>(kWalkerArgument), const_cast<char*>(path.c_str()),
                          const_cast<char*>(parent.c_str()), nullptr};
  std::vector<char*> env;
  std::string asan_options;
  for (char** e = environ; *e; ++e) {
#ifdef ATTNLAB_ASAN
    if (std::strncmp(*e, "ASAN_OPTIONS=", 13) == 0) {
      asan_options = *e;
      continue;
    }
#endif
    env.push_back(*e);
  }
  std::string fatal_to_stderr = "LIBC_FATAL_STDERR_=1";
  env.push_back(fatal_to_stderr.data());
#ifdef ATTNLAB_ASAN
  // The address space cannot be bounded under ASan (limit_walker_memory):
  // its own limit on resident memory ends a walker that grows past 1 GiB.
  asan_options =
      (asan_options.empty() ? "ASAN_OPTIONS=" : asan_options + ":") + "hard_rss_limit_mb=1024";
  env.push_back(asan_options.data());
#endif
  env.push_back(nullptr);

  Walker walker;
  const int failed =
      posix_spawn(&walker.pid, "/proc/self/exe", &files, &attributes, argv.data(), env.data());
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&files);
  ::close(write_end);
  if (failed) {
    ::close(pipe_fds[0]);
    errno = failed;
    return {};
  }
  walker.reports = pipe_fds[0];
  return walker;
}

// ---- global heaps: checked before HDF5 reads them ----------------------------------
//
// Variable-length strings (attnlab's attribute values) live in "global heap
// collections": blocks that start with "GCOL", version 1, three zero bytes
// and the collection's size, followed by objects, each a 16-byte header
// (index, reference count, reserved, size) and its bytes padded to 8. The
// format gives these blocks no checksum, and HDF5 1.10 trusts the sizes in
// them: an object whose size runs past its collection makes HDF5 copy that
// many bytes when the string is read. fuzz_checkpoint_bytes found such files
// (copies of 2^32 bytes and more; without the structure walk a Release build
// dies of them). HDF5 itself finds the collections through references in
// object headers; here every block with the signature is checked, which is
// at least as many.

constexpr int64_t kHeapHeaderBytes = 16;  // the collection's and each object's

uint64_t little_endian(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

bool is_heap_header(const unsigned char* p) {
  return std::memcmp(p, "GCOL", 4) == 0 && p[4] == 1 && p[5] == 0 && p[6] == 0 && p[7] == 0;
}

// A file opened for reading its bytes ourselves; closed on destruction.
struct RawFile {
  int fd = -1;
  int64_t bytes = 0;
  explicit RawFile(const std::string& path) {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd >= 0 && ::fstat(fd, &st) == 0) bytes = st.st_size;
  }
  ~RawFile() {
    if (fd >= 0) ::close(fd);
  }
  RawFile(const RawFile&) = delete;
  RawFile& operator=(const RawFile&) = delete;
  // Reads n bytes at `at`; false if the file has fewer.
  bool read(void* out, size_t n, int64_t at) const {
    return at >= 0 && ::pread(fd, out, n, at) == ssize_t(n);
  }
};

struct HeapObject {
  uint64_t index;
  uint64_t bytes;
};

// Reads the collection whose header is at byte `at` and returns its objects;
// throws naming the file and the byte when the collection does not fit in
// the file or an object does not fit in the collection.
std::vector<HeapObject> read_heap_collection(const RawFile& file, const std::string& path,
                                             int64_t at) {
  const auto damaged = [&](const std::string& what) {
    return std::runtime_error(fmt::format(
        "file '{}' is damaged: the global heap at byte {} (where HDF5 keeps variable-length "
        "strings) {}",
        path, at, what));
  };
  unsigned char header[kHeapHeaderBytes];
  if (!file.read(header, sizeof header, at)) throw damaged("is cut off by the end of the file");
  const uint64_t size = little_endian(header + 8, 8);
  // HDF5 makes every collection at least 4096 bytes. A shorter one lost
  // objects that strings still refer to, and HDF5 1.10 then reads outside
  // its table of them (found by fuzz_checkpoint_bytes: 4096 -> 256).
  constexpr uint64_t kMinHeapBytes = 4096;
  if (size < kMinHeapBytes)
    throw damaged(
        fmt::format("says it is {} bytes long; HDF5 makes each at least {}", size, kMinHeapBytes));
  if (size > uint64_t(file.bytes - at))
    throw damaged(fmt::format("says it is {} bytes long, but {} bytes of the file remain", size,
                              file.bytes - at));
  std::vector<unsigned char> heap(size);
  if (!file.read(heap.data(), heap.size(), at)) throw damaged("cannot be read whole");
  std::vector<HeapObject> objects;
  int64_t offset = kHeapHeaderBytes;
  const int64_t end = int64_t(size);
  // Each step moves at least one object header on, so the walk ends. Less
  // room than a header at the end is free space, as HDF5 reads it.
  while (end - offset >= kHeapHeaderBytes) {
    const unsigned char* object = heap.data() + offset;
    const uint64_t index = little_endian(object, 2);
    const uint64_t bytes = little_endian(object + 8, 8);
    const uint64_t room = uint64_t(end - offset);
    // Object 0 is the free space; its size counts its own header and is not padded.
    const bool fits = index == 0 ? bytes >= uint64_t(kHeapHeaderBytes) && bytes <= room
                                 : bytes <= room - uint64_t(kHeapHeaderBytes) &&
                                       (bytes + 7) / 8 * 8 <= room - uint64_t(kHeapHeaderBytes);
    if (!fits)
      throw damaged(fmt::format(
          "holds {} {} of {} bytes at byte {}, but its collection has {} bytes left there",
          index == 0 ? "free space" : "object", index, bytes, at + offset, room));
    objects.push_back({index, bytes});
    offset += index == 0 ? int64_t(bytes) : kHeapHeaderBytes + int64_t((bytes + 7) / 8 * 8);
  }
  return objects;
}

// Checks every collection in the file, at every open: reading a file's bytes
// costs little next to HDF5 reading it, and a file rewritten in place within
// one tick of the file system's clock keeps its size and time stamps.
void check_global_heaps(const std::string& path) {
  const RawFile file(path);
  if (file.fd < 0) return;  // the real open reports it
  constexpr std::string_view kSignature = "GCOL";
  constexpr int64_t kChunk = 1 << 20;
  // Uninitialised and no larger than the file: this runs on every open.
  const size_t buffer_bytes = size_t(std::min(file.bytes, kChunk) + kHeapHeaderBytes);
  const std::unique_ptr<unsigned char[]> buffer(new unsigned char[buffer_bytes]);
  unsigned char* const chunk = buffer.get();
  // Chunks overlap by a header, so that no header is cut in two.
  for (int64_t start = 0; start < file.bytes; start += kChunk) {
    const ssize_t got = ::pread(file.fd, chunk, buffer_bytes, start);
    if (got <= 0) return;  // the real open reports it
    const std::string_view text(reinterpret_cast<const char*>(chunk), size_t(got));
    for (size_t hit = text.find(kSignature); hit != std::string_view::npos && int64_t(hit) < kChunk;
         hit = text.find(kSignature, hit + 1)) {
      if (int64_t(hit) + kHeapHeaderBytes > got) break;  // too near the end to be a collection
      if (is_heap_header(chunk + hit)) read_heap_collection(file, path, start + int64_t(hit));
    }
  }
}

// A variable-length string dataset keeps in its raw data where its string
// is: the string's length (4 bytes), its collection's address (8) and the
// object's index in it (4). Raw data has no checksum, and HDF5 1.10 looks the
// index up without checking it: one flipped bit made it read memory far
// outside the heap (fuzz_checkpoint_bytes). So before HDF5 reads such a
// string, the reference must name an object of the collection, of the
// string's length. (An attribute's reference sits in its object header,
// which HDF5 checksums.)
void check_string_reference(const std::string& path, const std::string& where, hid_t dset) {
  const haddr_t raw = H5Dget_offset(dset);
  if (raw == HADDR_UNDEF) return;  // compact (in the checksummed header) or never written
  hsize_t base = 0;                // addresses count from the end of a user block
  bool in_memory = false;          // a file being created: HDF5 wrote it, nothing is on disk yet
  const hid_t file_id = H5Iget_file_id(dset);
  if (file_id >= 0) {
    const hid_t creation = H5Fget_create_plist(file_id);
    if (creation >= 0) {
      H5Pget_userblock(creation, &base);
      H5Pclose(creation);
    }
    const hid_t access = H5Fget_access_plist(file_id);
    if (access >= 0) {
      in_memory = H5Pget_driver(access) == H5FD_CORE;
      H5Pclose(access);
    }
    H5Fclose(file_id);
  }
  if (in_memory) return;
  const RawFile file(path);
  unsigned char reference[16];
  if (file.fd < 0 || !file.read(reference, sizeof reference, int64_t(base + raw)))
    fail(path, fmt::format("{}: the file ends before the string's reference at byte {}", where,
                           base + raw));
  const uint64_t length = little_endian(reference, 4);
  const uint64_t heap = little_endian(reference + 4, 8);
  const uint64_t index = little_endian(reference + 12, 4);
  if (heap == 0) return;  // no string stored (HDF5 reads nothing)
  const auto refuse = [&](const std::string& why) {
    fail(path, fmt::format("{} is damaged: its string ({} bytes, object {} of the global heap at "
                           "byte {}) {}",
                           where, length, index, base + heap, why));
  };
  unsigned char header[kHeapHeaderBytes];
  if (heap > uint64_t(file.bytes) || !file.read(header, sizeof header, int64_t(base + heap)) ||
      !is_heap_header(header))
    refuse("points where no global heap is");
  for (const HeapObject& object : read_heap_collection(file, path, int64_t(base + heap)))
    if (object.index == index && index != 0) {
      if (object.bytes != length)
        refuse(fmt::format("is stored there with {} bytes", object.bytes));
      return;
    }
  refuse("is not in that heap");
}

bool g_structure_walk = true;

// Throws naming the file when HDF5 cannot walk it without dying, or not
// within walk_seconds(). A file is walked once while it stays the same (a
// checkpoint is opened three times to resume from it).
void probe_structure(const std::string& path) {
  if (!g_structure_walk) return;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;  // the real open reports it
  const auto identity =
      std::make_tuple(st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  static std::set<std::decay_t<decltype(identity)>> walked;
  if (walked.count(identity)) return;
  const double limit = walk_seconds();
  const Walker walker = start_walker(path);
  if (walker.pid < 0)
    return warn_unwalked(path,
                         fmt::format("no process could be started: {}", std::strerror(errno)));

  // The report pipe ends when the walker does (its only copy of the write
  // end closes), so waiting on it waits for the walker, with a deadline: a
  // walker that hangs must not hang attnlab.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(limit);
  std::string said;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(walker.pid, SIGKILL);
      int status = 0;
      while (::waitpid(walker.pid, &status, 0) < 0 && errno == EINTR) {
      }
      ::close(walker.reports);
      throw std::runtime_error(fmt::format(
          "file '{}' is damaged or unreadable: HDF5 did not finish reading its structure within "
          "{:g} s (a very slow disk can also cause this; the environment variable {} sets the "
          "limit)",
          path, limit, kWalkSecondsVariable));
    }
    pollfd wait_for{walker.reports, POLLIN, 0};
    const int ready = ::poll(&wait_for, 1, int(std::min<int64_t>(left.count() + 1, 1 << 30)));
    if (ready == 0 || (ready < 0 && errno == EINTR)) continue;
    char buf[8];
    const ssize_t got = ready > 0 ? ::read(walker.reports, buf, sizeof buf) : -1;
    if (got > 0) {
      said.append(buf, size_t(got));
    } else if (got == 0 || errno != EINTR) {
      break;  // the walker has ended (or the pipe failed: judged by what it said)
    }
  }
  ::close(walker.reports);
  int status = 0;
  pid_t reaped = -1;
  while ((reaped = ::waitpid(walker.pid, &status, 0)) < 0 && errno == EINTR) {
  }
  // With SIGCHLD ignored the exit status is gone (reaped < 0): the reports still tell.
  const std::string how = reaped == walker.pid ? describe_exit(status) : "no exit status";
  if (said.empty()) return warn_unwalked(path, "/proc/self/exe did not run as a walker: " + how);
  if (said.find(kWalkDone) == std::string::npos)
    throw std::runtime_error(fmt::format(
        "file '{}' is damaged: HDF5 fails while reading its structure ({})", path, how));
  walked.insert(identity);
}

}  // namespace

void set_structure_walk(bool enabled) {
  g_structure_walk = enabled;
}

namespace {

// STRONG close: H5Fclose really closes the file even if a handle leaked, so
// the file can be reopened, resized or deleted right after close().
Handle strong_close_fapl() {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fclose_degree(fapl.get(), H5F_CLOSE_STRONG);
  return fapl;
}

}  // namespace

// ---- lifetime ----------------------------------------------------------------------

H5File H5File::create(const std::string& path) {
  silence_hdf5();
  // Fail now, not at close(), when the file cannot be created at all.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw std::runtime_error(
        fmt::format("cannot create HDF5 file '{}': {}", path, std::strerror(errno)));
  ::close(fd);
  Handle fapl = strong_close_fapl();
  // The core driver without a backing store keeps the whole file in memory;
  // close() writes its image with plain POSIX calls whose errors we see.
  H5Pset_fapl_core(fapl.get(), 1 << 20, /*backing_store=*/0);
  // The 1.8 object formats checksum every piece of metadata (object headers,
  // B-trees, heaps' headers), so a reader sees a damaged file as damaged; the
  // oldest formats have no checksums, and HDF5 1.10 crashes on some flipped
  // bits in them (found by fuzz/fuzz_checkpoint). HDF5 1.8 and later read it.
  H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_V18);
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get());
  if (f < 0)
    throw std::runtime_error(fmt::format("cannot create HDF5 file '{}'{}", path, hdf5_reason()));
  return H5File(f, path, /*in_memory=*/true);
}

H5File H5File::open_read(const std::string& path) {
  return open(path, H5F_ACC_RDONLY);
}
H5File H5File::open_rw(const std::string& path) {
  return open(path, H5F_ACC_RDWR);
}

H5File H5File::open(const std::string& path, unsigned flags) {
  silence_hdf5();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw std::runtime_error(fmt::format("file '{}' does not exist", path));
  if (std::filesystem::is_directory(path, ec))
    throw std::runtime_error(fmt::format("'{}' is a directory, not an HDF5 file", path));
  // HDF5 would open a FIFO and wait for a writer, or read a device forever.
  if (!std::filesystem::is_regular_file(path, ec))
    throw std::runtime_error(fmt::format(
        "'{}' is not a regular file (a FIFO, socket or device), not an HDF5 file", path));
  // H5Fis_hdf5 only looks for the signature; H5Fopen then checks the
  // superblock and that the file is as long as the superblock says.
  const htri_t is_hdf5 = H5Fis_hdf5(path.c_str());
  std::string reason = hdf5_reason();
  hid_t f = -1;
  if (is_hdf5 > 0) {
    check_global_heaps(path);
    probe_structure(path);
    Handle fapl = strong_close_fapl();
    f = H5Fopen(path.c_str(), flags, fapl.get());
    reason = hdf5_reason();
  }
  if (f < 0)
    throw std::runtime_error(
        fmt::format("file '{}' is not an HDF5 file or is truncated/corrupted{}", path, reason));
  return H5File(f, path);
}

H5File::H5File(H5File&& other) noexcept
    : file_(other.file_), filename_(std::move(other.filename_)), in_memory_(other.in_memory_) {
  other.file_ = -1;
}

H5File& H5File::operator=(H5File&& other) noexcept {
  if (this != &other) {
    close_quietly();
    file_ = other.file_;
    filename_ = std::move(other.filename_);
    in_memory_ = other.in_memory_;
    other.file_ = -1;
  }
  return *this;
}

H5File::~H5File() {
  close_quietly(/*write_out=*/std::uncaught_exceptions() == 0);
}

void H5File::close() {
  const std::string problem = close_quietly();
  if (!problem.empty()) fail(filename_, problem);
}

namespace {

// Writes all of `bytes` to `path` (created or truncated); "" or the reason
// it failed, in which case no partial file is left.
std::string write_whole_file(const std::string& path, const std::vector<char>& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fmt::format("cannot create the file: {}", std::strerror(errno));
  size_t done = 0;
  std::string problem;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      problem = fmt::format("cannot write the file ({} of {} bytes written): {}", done,
                            bytes.size(), std::strerror(n < 0 ? errno : ENOSPC));
      break;
    }
    done += size_t(n);
  }
  if (::close(fd) != 0 && problem.empty())
    problem = fmt::format("cannot write the file: {}", std::strerror(errno));
  if (!problem.empty()) ::unlink(path.c_str());
  return problem;
}

}  // namespace

std::string H5File::close_quietly(bool write_out) noexcept {
  if (file_ < 0) return "";
  const hid_t f = file_;
  file_ = -1;
  if (!in_memory_) return H5Fclose(f) < 0 ? "cannot close the file" : "";
  std::string problem;
  try {
    std::vector<char> image;
    if (write_out && H5Fflush(f, H5F_SCOPE_GLOBAL) < 0) {
      problem = "cannot finish the file" + hdf5_reason();
    } else if (write_out) {
      const ssize_t size = H5Fget_file_image(f, nullptr, 0);
      image.resize(size > 0 ? size_t(size) : 0);
      if (size <= 0 || H5Fget_file_image(f, image.data(), image.size()) != size)
        problem = "cannot take the file's image" + hdf5_reason();
      else
        fix_superblock_checksum(image);
    }
    // Memory only: closing cannot fail on the disk, so HDF5 keeps no file open.
    H5Fclose(f);
    if (write_out && problem.empty()) problem = write_whole_file(filename_, image);
  } catch (const std::exception& e) {  // e.g. no memory for the image
    H5Fclose(f);
    problem = std::string("cannot write the file: ") + e.what();
  } catch (...) {
    H5Fclose(f);
    problem = "cannot write the file";
  }
  return problem;
}

void H5File::require_open() const {
  if (file_ < 0) fail(filename_, "the file is closed");
}

// ---- datasets ----------------------------------------------------------------------

template <typename T>
void H5File::write(const std::string& path, const std::vector<T>& values,
                   const std::vector<int64_t>& shape) {
  require_open();
  const auto parts = split_path(filename_, path);
  if (parts.empty()) fail(filename_, "cannot write a dataset at the root '/'");
  for (int64_t d : shape)
    if (d < 0)
      fail(filename_, fmt::format("dataset '{}': negative dimension in shape {}", shown(parts),
                                  shape_str(shape)));
  if (int64_t(values.size()) != shape_numel(shape))
    fail(filename_, fmt::format("dataset '{}': {} values do not fill shape {} ({} elements)",
                                shown(parts), values.size(), shape_str(shape), shape_numel(shape)));
  if (object_type(file_, parts) != H5I_BADID)
    fail(filename_, fmt::format("'{}' already exists", shown(parts)));
  make_parents(filename_, file_, parts);

  std::vector<hsize_t> dims(shape.begin(), shape.end());
  Handle space(shape.empty() ? H5Screate(H5S_SCALAR)
                             : H5Screate_simple(int(dims.size()), dims.data(), nullptr),
               H5Sclose);
  if (!space.valid())
    fail(filename_, fmt::format("dataset '{}': cannot make a dataspace of shape {}{}", shown(parts),
                                shape_str(shape), hdf5_reason()));
  Handle dset(H5Dcreate2(file_, h5_path(parts).c_str(), Element<T>::disk(), space.get(),
                         H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
              H5Dclose);
  if (!dset.valid())
    fail(filename_, fmt::format("cannot create dataset '{}'{}", shown(parts), hdf5_reason()));
  if (!values.empty() &&
      H5Dwrite(dset.get(), Element<T>::mem(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
    fail(filename_, fmt::format("cannot write dataset '{}'{}", shown(parts), hdf5_reason()));
}

template <typename T>
H5Data<T> H5File::read(const std::string& path) const {
  return read_checked<T>(path, nullptr);
}

template <typename T>
std::vector<T> H5File::read(const std::string& path, const std::vector<int64_t>& expected) const {
  return std::move(read_checked<T>(path, &expected).values);
}

template <typename T>
H5Data<T> H5File::read_checked(const std::string& path,
                               const std::vector<int64_t>* expected) const {
  require_open();
  const auto parts = split_path(filename_, path);
  Handle dset = open_object(filename_, file_, parts, H5I_DATASET);
  const std::string where = fmt::format("dataset '{}'", shown(parts));
  Handle type(H5Dget_type(dset.get()), H5Tclose);
  if (!type.valid())
    fail(filename_, fmt::format("cannot read the type of {}{}", where, hdf5_reason()));
  if (std::string why = conversion_problem<T>(type.get()); !why.empty())
    fail(filename_, fmt::format("{} holds {}; {}", where, describe_type(type.get()), why));
  Handle space(H5Dget_space(dset.get()), H5Sclose);
  H5Data<T> out;
  out.shape = space_shape(filename_, where, space.get());
  if (expected && out.shape != *expected)
    fail(filename_, fmt::format("{} has shape {}, expected {}", where, shape_str(out.shape),
                                shape_str(*expected)));
  out.values.resize(stored_value_count(filename_, file_, where, dset.get(), type.get(), out.shape));
  if (!out.values.empty() &&
      H5Dread(dset.get(), Element<T>::mem(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.values.data()) < 0)
    fail(filename_, fmt::format("cannot read {}{}", where, hdf5_reason()));
  return out;
}

#define ATTNLAB_H5_INSTANTIATE(T)                                           \
  template void H5File::write<T>(const std::string&, const std::vector<T>&, \
                                 const std::vector<int64_t>&);              \
  template H5Data<T> H5File::read<T>(const std::string&) const;             \
  template std::vector<T> H5File::read<T>(const std::string&, const std::vector<int64_t>&) const;
ATTNLAB_H5_INSTANTIATE(double)
ATTNLAB_H5_INSTANTIATE(float)
ATTNLAB_H5_INSTANTIATE(int32_t)
ATTNLAB_H5_INSTANTIATE(int64_t)
ATTNLAB_H5_INSTANTIATE(uint8_t)
#undef ATTNLAB_H5_INSTANTIATE

void H5File::write_string(const std::string& path, const std::string& value) {
  require_open();
  const auto parts = split_path(filename_, path);
  if (parts.empty()) fail(filename_, "cannot write a dataset at the root '/'");
  if (object_type(file_, parts) != H5I_BADID)
    fail(filename_, fmt::format("'{}' already exists", shown(parts)));
  make_parents(filename_, file_, parts);
  Handle type = variable_string_type();
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle dset(H5Dcreate2(file_, h5_path(parts).c_str(), type.get(), space.get(), H5P_DEFAULT,
                         H5P_DEFAULT, H5P_DEFAULT),
              H5Dclose);
  const char* text = value.c_str();
  if (!dset.valid() || H5Dwrite(dset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &text) < 0)
    fail(filename_, fmt::format("cannot write string dataset '{}'{}", shown(parts), hdf5_reason()));
}

std::string H5File::read_string(const std::string& path) const {
  require_open();
  const auto parts = split_path(filename_, path);
  Handle dset = open_object(filename_, file_, parts, H5I_DATASET);
  const std::string where = fmt::format("dataset '{}'", shown(parts));
  Handle type(H5Dget_type(dset.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING)
    fail(filename_, fmt::format("{} holds {}, not a string", where, describe_type(type.get())));
  Handle space(H5Dget_space(dset.get()), H5Sclose);
  return read_one_string(filename_, where, dset.get(), false, type.get(), space.get());
}

// ---- attributes --------------------------------------------------------------------

void H5File::set_attribute(const std::string& path, const std::string& name,
                           const std::string& value) {
  require_open();
  const auto parts = split_path(filename_, path);
  Handle obj = open_object(filename_, file_, parts, H5I_BADID);
  if (H5Aexists(obj.get(), name.c_str()) > 0 && H5Adelete(obj.get(), name.c_str()) < 0)
    fail(filename_,
         fmt::format("cannot replace attribute '{}' on '{}'{}", name, shown(parts), hdf5_reason()));
  Handle type = variable_string_type();
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle attr(
      H5Acreate2(obj.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
      H5Aclose);
  const char* text = value.c_str();
  if (!attr.valid() || H5Awrite(attr.get(), type.get(), &text) < 0)
    fail(filename_,
         fmt::format("cannot write attribute '{}' on '{}'{}", name, shown(parts), hdf5_reason()));
}

std::string H5File::get_attribute(const std::string& path, const std::string& name) const {
  require_open();
  const auto parts = split_path(filename_, path);
  Handle obj = open_object(filename_, file_, parts, H5I_BADID);
  if (H5Aexists(obj.get(), name.c_str()) <= 0)
    fail(filename_, fmt::format("attribute '{}' not found on '{}'", name, shown(parts)));
  Handle attr(H5Aopen(obj.get(), name.c_str(), H5P_DEFAULT), H5Aclose);
  const std::string where = fmt::format("attribute '{}' on '{}'", name, shown(parts));
  if (!attr.valid()) fail(filename_, fmt::format("cannot open {}{}", where, hdf5_reason()));
  Handle type(H5Aget_type(attr.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING)
    fail(filename_, fmt::format("{} holds {}, not a string", where, describe_type(type.get())));
  Handle space(H5Aget_space(attr.get()), H5Sclose);
  return read_one_string(filename_, where, attr.get(), true, type.get(), space.get());
}

void H5File::remove_attribute(const std::string& path, const std::string& name) {
  require_open();
  const auto parts = split_path(filename_, path);
  Handle obj = open_object(filename_, file_, parts, H5I_BADID);
  if (H5Aexists(obj.get(), name.c_str()) <= 0)
    fail(filename_, fmt::format("attribute '{}' not found on '{}'", name, shown(parts)));
  if (H5Adelete(obj.get(), name.c_str()) < 0)
    fail(filename_,
         fmt::format("cannot remove attribute '{}' on '{}'{}", name, shown(parts), hdf5_reason()));
}

bool H5File::has_attribute(const std::string& path, const std::string& name) const {
  require_open();
  const auto parts = split_path(filename_, path);
  Handle obj = open_object(filename_, file_, parts, H5I_BADID);
  return H5Aexists(obj.get(), name.c_str()) > 0;
}

std::vector<std::string> H5File::attribute_names(const std::string& path) const {
  require_open();
  const auto parts = split_path(filename_, path);
  Handle obj = open_object(filename_, file_, parts, H5I_BADID);
  std::vector<std::string> names;
  // The callback only collects: nothing may throw through HDF5's C frames.
  const herr_t status = H5Aiterate2(
      obj.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
      [](hid_t, const char* name, const H5A_info_t*, void* data) -> herr_t {
        static_cast<std::vector<std::string>*>(data)->emplace_back(name);
        return 0;
      },
      &names);
  if (status < 0)
    fail(filename_,
         fmt::format("cannot list the attributes of '{}'{}", shown(parts), hdf5_reason()));
  std::sort(names.begin(), names.end());
  return names;
}

// ---- structure ---------------------------------------------------------------------

bool H5File::exists(const std::string& path) const {
  require_open();
  return object_type(file_, split_path(filename_, path)) != H5I_BADID;
}

bool H5File::is_group(const std::string& path) const {
  require_open();
  return object_type(file_, split_path(filename_, path)) == H5I_GROUP;
}

bool H5File::is_dataset(const std::string& path) const {
  require_open();
  return object_type(file_, split_path(filename_, path)) == H5I_DATASET;
}

std::vector<std::string> H5File::list_datasets(const std::string& group) const {
  require_open();
  std::vector<std::string> out;
  std::set<std::string> seen;  // groups already listed, by identity
  // Depth-first over hard links; children are collected first and visited
  // afterwards so that no C++ code runs inside HDF5's iteration callback.
  auto visit = [&](auto&& self, const std::vector<std::string>& parts) -> void {
    Handle g = open_object(filename_, file_, parts, H5I_GROUP);
    const std::string identity = object_identity(g.get());
    if (identity.empty())
      fail(filename_, fmt::format("cannot identify group '{}'{}", shown(parts), hdf5_reason()));
    if (!seen.insert(identity).second) return;  // reached again through another link
    std::vector<std::string> children;
    const herr_t status = H5Literate(
        g.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
        [](hid_t, const char* name, const H5L_info_t* info, void* data) -> herr_t {
          if (info->type == H5L_TYPE_HARD)
            static_cast<std::vector<std::string>*>(data)->emplace_back(name);
          return 0;
        },
        &children);
    if (status < 0)
      fail(filename_, fmt::format("cannot list group '{}'{}", shown(parts), hdf5_reason()));
    for (const std::string& child : children) {
      std::vector<std::string> sub = parts;
      sub.push_back(child);
      const H5I_type_t type = object_type(file_, sub);
      if (type == H5I_DATASET) out.push_back(shown(sub));
      if (type == H5I_GROUP) self(self, sub);
    }
  };
  visit(visit, split_path(filename_, group));
  return out;
}

std::vector<int64_t> H5File::shape(const std::string& path) const {
  require_open();
  const auto parts = split_path(filename_, path);
  Handle dset = open_object(filename_, file_, parts, H5I_DATASET);
  Handle space(H5Dget_space(dset.get()), H5Sclose);
  return space_shape(filename_, fmt::format("dataset '{}'", shown(parts)), space.get());
}

std::string H5File::element_type(const std::string& path) const {
  require_open();
  const auto parts = split_path(filename_, path);
  Handle dset = open_object(filename_, file_, parts, H5I_DATASET);
  Handle type(H5Dget_type(dset.get()), H5Tclose);
  return describe_type(type.get());
}

void H5File::remove(const std::string& path) {
  require_open();
  const auto parts = split_path(filename_, path);
  if (parts.empty()) fail(filename_, "cannot remove the root group");
  open_object(filename_, file_, parts, H5I_BADID);  // throws "not found" with the path
  if (H5Ldelete(file_, h5_path(parts).c_str(), H5P_DEFAULT) < 0)
    fail(filename_, fmt::format("cannot remove '{}'{}", shown(parts), hdf5_reason()));
}

// ---- string lists ------------------------------------------------------------------

void write_string_list(H5File& f, const std::string& path, const std::vector<std::string>& items) {
  std::vector<uint8_t> bytes;
  std::vector<int64_t> lengths;
  for (const auto& s : items) {
    bytes.insert(bytes.end(), s.begin(), s.end());
    lengths.push_back(int64_t(s.size()));
  }
  f.write<uint8_t>(path + "/bytes", bytes, {int64_t(bytes.size())});
  f.write<int64_t>(path + "/lengths", lengths, {int64_t(lengths.size())});
}

std::vector<std::string> read_string_list(const H5File& f, const std::string& path) {
  auto bytes = f.read<uint8_t>(path + "/bytes").values;
  auto lengths = f.read<int64_t>(path + "/lengths").values;
  std::vector<std::string> out;
  size_t at = 0;
  for (int64_t len : lengths) {
    if (len < 0 || at + size_t(len) > bytes.size())
      throw std::runtime_error(fmt::format(
          "{}: '{}' is corrupted (lengths exceed the stored bytes)", f.filename(), path));
    out.emplace_back(reinterpret_cast<const char*>(bytes.data()) + at, size_t(len));
    at += size_t(len);
  }
  if (at != bytes.size())
    throw std::runtime_error(
        fmt::format("{}: '{}' is corrupted (unused bytes)", f.filename(), path));
  return out;
}

}  // namespace attnlab
