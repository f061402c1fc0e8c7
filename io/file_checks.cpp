#include "io/file_checks.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/hdf5_detail.h"

namespace attnlab::h5 {
namespace {

// Variable-length strings (attnlab's attribute values) live in "global heap
// collections": blocks that start with "GCOL", version 1, three zero bytes
// and the collection's size, followed by objects, each a 16-byte header
// (index, reference count, reserved, size) and its bytes padded to 8. The
// format gives these blocks no checksum, and HDF5 1.10 trusts the sizes in
// them: an object whose size runs past its collection makes HDF5 copy that
// many bytes (2^32 and more, which kills the process) when the string is
// read. HDF5 itself finds the collections through references in object
// headers; here every block with the signature is checked, which is at least
// as many.

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
  // its table of them.
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

}  // namespace

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
// index up without checking it: one flipped bit makes it read memory far
// outside the heap. So before HDF5 reads such a
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

}  // namespace attnlab::h5
