#include "data/read_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/errors.h"

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace attnlab::data {

std::string read_regular_file(const std::string& path, std::size_t max_bytes,
                              const std::string& what) {
  const std::string name = what.empty() ? path : what + " " + path;
  const auto fail = [&](const std::string& why) {
    throw InputError(fmt::format("{}: {}", name, why));
  };
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) fail(fmt::format("cannot open the file ({})", std::strerror(errno)));
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail(fmt::format("cannot read its status ({})", std::strerror(errno)));
  if (S_ISDIR(st.st_mode)) fail("is a directory, not a file");
  if (!S_ISREG(st.st_mode))
    fail("is not a regular file (a FIFO, socket or device cannot be read as data)");
  if (static_cast<uint64_t>(st.st_size) > max_bytes)
    fail(fmt::format("{} bytes is more than the {} bytes such a file may have", st.st_size,
                     max_bytes));
  // Read to the end, but never past the limit, even if the file grows meanwhile.
  std::string bytes;
  bytes.reserve(static_cast<std::size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(fmt::format("read error ({})", std::strerror(errno)));
    if (n == 0) break;
    if (bytes.size() + static_cast<std::size_t>(n) > max_bytes)
      fail(fmt::format("grew past the {} bytes such a file may have while it was read", max_bytes));
    bytes.append(buf, static_cast<std::size_t>(n));
  }
  return bytes;
}

}  // namespace attnlab::data
