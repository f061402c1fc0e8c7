// The files a command writes for the user (trace's HDF5, plot's SVG,
// compare's report): nothing the user had is damaged by writing them.
// - check_output_path() runs before any work: the path's directory must
//   exist (nothing is created), and the path must not be a directory,
//   device, FIFO or socket, a file the command reads, a file of a run
//   directory (checkpoint.h5, best.h5, metrics.jsonl, .lock) or a link to
//   one, or an attnlab checkpoint under any name.
// - The bytes go to a temporary file beside the path, which is renamed into
//   place only when complete; on any failure the temporary is removed and
//   the path is as it was. Nothing else is ever deleted.
// Refusals throw InputError (exit 2) naming the option and the path.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace attnlab {

// `option` names the path in messages ("--out"); `inputs` are the files the
// command reads, which it must not overwrite.
void check_output_path(const std::string& path, const std::string& option,
                       const std::vector<std::string>& inputs = {});

// A directory for a command's pictures (trace --svg, ablate --out): made if
// missing, but only inside a directory that exists; refused when the path
// exists and is not a directory. Each file written into it still goes
// through check_output_path.
void prepare_output_directory(const std::string& dir, const std::string& option);

// A file being written beside `path`, under a fresh temporary name, that
// becomes the file at `path` only through publish(). Removed again if it is
// never published (a failure, an exception).
class PendingFile {
 public:
  explicit PendingFile(std::string path);
  ~PendingFile();
  PendingFile(const PendingFile&) = delete;
  PendingFile& operator=(const PendingFile&) = delete;
  const std::string& temporary() const { return temporary_; }
  // Flushes the finished temporary to disk and renames it to `path`; throws
  // naming `path` on failure.
  void publish();

 private:
  std::string path_, temporary_;
  bool published_ = false;
};

// Writes `bytes` as the file at `path`, through a temporary beside it.
void write_file_atomically(const std::string& path, std::string_view bytes);

}  // namespace attnlab
