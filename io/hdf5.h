// H5File: attnlab's interface to HDF5 files, for the two things it stores in
// them: checkpoints (parameter tensors at their module paths) and test
// reference data. It reads damaged and hostile files safely: before HDF5
// opens a file, io/file_checks.h checks the raw structures HDF5 trusts
// without a checksum, and io/structure_walk.h walks the file in a process of
// its own, so that a file that crashes HDF5 is refused instead of crashing
// attnlab. The HDF5 C API stays out of this header.
//
// Conventions:
// - Paths are slash-separated and relative to the root ("decoder/layers/0/
//   cross_attn/q_proj/weight"); a leading '/' is accepted and ignored, so the
//   module paths of Module::named_parameters() are dataset paths as they are.
//   Writing a dataset creates the groups above it.
// - A shape is std::vector<int64_t> in row-major order; {} is a scalar.
// - Element types: double, float, int32_t, int64_t, uint8_t. Reading converts
//   only what converts exactly (float32 -> double, int32 -> double, uint8 ->
//   int32, ...); reading strings as numbers, float64 as float32, floats as
//   integers, integers into a float type that cannot hold them all (int32 ->
//   float32, int64 -> double) or a wider integer into a narrower one is refused.
// - Every failure throws std::runtime_error naming the file, the dataset or
//   attribute path and what went wrong; HDF5's own error printing to stderr
//   is switched off, and its innermost message is appended where useful.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace attnlab {

template <typename T>
struct H5Data {
  std::vector<T> values;  // row-major
  std::vector<int64_t> shape;
};

class H5File {
 public:
  // Creates `path`, replacing an existing regular file; refuses a directory,
  // device, FIFO or socket at `path`.
  // A new file, built in memory and written to `path` whole by close() (or,
  // ignoring errors, by the destructor): a full disk or a write error is
  // then an error of close(), reported with the path, and never leaves the
  // HDF5 library holding a file it cannot flush.
  static H5File create(const std::string& path);
  // Opens an existing file; throws if it is missing, not HDF5, or truncated.
  static H5File open_read(const std::string& path);
  static H5File open_rw(const std::string& path);

  H5File(H5File&& other) noexcept;
  H5File& operator=(H5File&& other) noexcept;
  H5File(const H5File&) = delete;
  H5File& operator=(const H5File&) = delete;
  ~H5File();  // closes without throwing; call close() to see errors

  // Flushes and closes (a created file is written out now); the object is
  // unusable afterwards, also when close() throws.
  void close();
  bool is_open() const { return file_ >= 0; }
  const std::string& filename() const { return filename_; }

  // ---- datasets ---------------------------------------------------------------
  // values.size() must equal the product of shape; throws if `path` exists.
  template <typename T>
  void write(const std::string& path, const std::vector<T>& values,
             const std::vector<int64_t>& shape);
  template <typename T>
  H5Data<T> read(const std::string& path) const;
  // As read(), but throws unless the stored shape equals `expected`.
  template <typename T>
  std::vector<T> read(const std::string& path, const std::vector<int64_t>& expected) const;

  H5Data<double> read_double(const std::string& path) const { return read<double>(path); }
  H5Data<float> read_float(const std::string& path) const { return read<float>(path); }
  H5Data<int32_t> read_int32(const std::string& path) const { return read<int32_t>(path); }
  H5Data<int64_t> read_int64(const std::string& path) const { return read<int64_t>(path); }
  H5Data<uint8_t> read_uint8(const std::string& path) const { return read<uint8_t>(path); }

  // A scalar UTF-8 string dataset.
  void write_string(const std::string& path, const std::string& value);
  std::string read_string(const std::string& path) const;

  // ---- attributes (string-valued, on a group or dataset; "/" is the root) -------
  // Replaces an existing attribute of the same name.
  void set_attribute(const std::string& path, const std::string& name, const std::string& value);
  std::string get_attribute(const std::string& path, const std::string& name) const;
  bool has_attribute(const std::string& path, const std::string& name) const;
  void remove_attribute(const std::string& path, const std::string& name);
  std::vector<std::string> attribute_names(const std::string& path) const;  // sorted

  // ---- structure -----------------------------------------------------------------
  bool exists(const std::string& path) const;  // a group or dataset
  bool is_group(const std::string& path) const;
  bool is_dataset(const std::string& path) const;
  // Every dataset below `group`, recursively, as full paths without a leading
  // '/', sorted by name within each group.
  std::vector<std::string> list_datasets(const std::string& group = "/") const;
  std::vector<int64_t> shape(const std::string& path) const;
  // What a dataset holds, as messages say it: "float32 values", "int64 values", "strings".
  std::string element_type(const std::string& path) const;
  // Unlinks a dataset or group (the space is not reclaimed in the file).
  void remove(const std::string& path);

 private:
  H5File(int64_t file, std::string filename, bool in_memory = false)
      : file_(file), filename_(std::move(filename)), in_memory_(in_memory) {}
  static H5File open(const std::string& path, unsigned flags);
  void require_open() const;
  // read() and read(path, expected): a non-null `expected` is checked before
  // anything is allocated.
  template <typename T>
  H5Data<T> read_checked(const std::string& path, const std::vector<int64_t>* expected) const;
  // Closes the file; for a created file, first writes its image to
  // filename_ unless `write_out` is false (an exception is unwinding: the
  // file is unfinished). Returns what went wrong ("" if nothing); never throws.
  std::string close_quietly(bool write_out = true) noexcept;
  int64_t file_ = -1;  // hid_t; int64_t keeps hdf5.h out of this header
  std::string filename_;
  bool in_memory_ = false;  // made by create(): the disk is written at close
};

// A list of UTF-8 strings as two datasets: <path>/bytes (uint8, the strings
// concatenated) and <path>/lengths (int64, each string's length in bytes).
// Reading checks that the lengths account for the bytes exactly.
void write_string_list(H5File& f, const std::string& path, const std::vector<std::string>& items);
std::vector<std::string> read_string_list(const H5File& f, const std::string& path);

// Whether files are walked in a separate process before they are opened
// (io/structure_walk.h). On by default; fuzz/fuzz_checkpoint turns it off for
// files HDF5 itself wrote.
void set_structure_walk(bool enabled);

extern template void H5File::write<double>(const std::string&, const std::vector<double>&,
                                           const std::vector<int64_t>&);
extern template void H5File::write<float>(const std::string&, const std::vector<float>&,
                                          const std::vector<int64_t>&);
extern template void H5File::write<int32_t>(const std::string&, const std::vector<int32_t>&,
                                            const std::vector<int64_t>&);
extern template void H5File::write<int64_t>(const std::string&, const std::vector<int64_t>&,
                                            const std::vector<int64_t>&);
extern template void H5File::write<uint8_t>(const std::string&, const std::vector<uint8_t>&,
                                            const std::vector<int64_t>&);
extern template H5Data<double> H5File::read<double>(const std::string&) const;
extern template H5Data<float> H5File::read<float>(const std::string&) const;
extern template H5Data<int32_t> H5File::read<int32_t>(const std::string&) const;
extern template H5Data<int64_t> H5File::read<int64_t>(const std::string&) const;
extern template H5Data<uint8_t> H5File::read<uint8_t>(const std::string&) const;
extern template std::vector<double> H5File::read<double>(const std::string&,
                                                         const std::vector<int64_t>&) const;
extern template std::vector<float> H5File::read<float>(const std::string&,
                                                       const std::vector<int64_t>&) const;
extern template std::vector<int32_t> H5File::read<int32_t>(const std::string&,
                                                           const std::vector<int64_t>&) const;
extern template std::vector<int64_t> H5File::read<int64_t>(const std::string&,
                                                           const std::vector<int64_t>&) const;
extern template std::vector<uint8_t> H5File::read<uint8_t>(const std::string&,
                                                           const std::vector<int64_t>&) const;

}  // namespace attnlab
