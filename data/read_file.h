// Reading a file the user named, whole, with the checks that keep a wrong
// path from hanging or eating the machine: only regular files (a FIFO with no
// writer would block, /dev/zero would never end, a directory reads as
// nothing), and at most a given size.
#pragma once

#include <cstddef>
#include <string>

namespace attnlab::data {

// The bytes of `path`. Throws std::runtime_error naming `path` (as "`what`
// PATH: ...", e.g. "--config run.ini: ...", or "PATH: ..." when `what` is
// empty) when it is missing, not a regular file, unreadable, or larger than
// `max_bytes`. The file is opened without blocking, so a FIFO is refused
// rather than waited on.
std::string read_regular_file(const std::string& path, std::size_t max_bytes,
                              const std::string& what = {});

}  // namespace attnlab::data
