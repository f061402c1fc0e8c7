#include "io/hdf5.h"

#include <fmt/format.h>
#include <hdf5.h>

#include <algorithm>
#include <exception>
#include <filesystem>
#include <set>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "autograd/shape.h"
#include "io/file_checks.h"
#include "io/hdf5_detail.h"
#include "io/structure_walk.h"

namespace attnlab {

using namespace h5;

// The header stores hid_t as int64_t to keep hdf5.h private.
static_assert(std::is_same_v<hid_t, int64_t>, "attnlab expects HDF5 >= 1.10 (64-bit hid_t)");

namespace {

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
  // A device, FIFO or directory is never replaced by a new file.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    throw std::runtime_error(fmt::format(
        "cannot create HDF5 file '{}': it exists and is not a regular file (a directory, device, "
        "FIFO or socket)",
        path));
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
  // bits in them. HDF5 1.8 and later read it.
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
    walk_structure(path);
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
  // Only a regular file is ours to remove (create() refuses anything else,
  // but the path may have been replaced since).
  struct stat st {};
  if (!problem.empty() && ::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode))
    ::unlink(path.c_str());
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
