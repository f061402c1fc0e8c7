// The files commands write for the user never damage what the user has:
// run files, inputs, devices and FIFOs are refused by name before any work,
// missing directories are named, not made, and a write that fails leaves
// the old file and no temporary behind.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "checkpoint_fixtures.h"
#include "cli_process.h"
#include "io/hdf5.h"

using namespace cli_test;
using Catch::Matchers::Contains;

namespace {

// Every file below `dir` with its bytes, to compare before and after.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) files[entry.path().string()] = read_text(entry.path());
  return files;
}

}  // namespace

TEST_CASE("output files: trace and plot refuse a run's files and their own inputs, untouched") {
  const fs::path dir = fresh_dir("output_refusals");
  const std::string ckpt = tiny_checkpoint(dir);
  const fs::path run_dir = dir / "run";
  REQUIRE(run(fmt::format("trace --ckpt {} --input abc --out {}", run_dir.string(),
                          (dir / "trace.h5").string()))
              .exit_code == 0);
  fs::copy_file(ckpt, dir / "model.h5");
  fs::create_symlink(ckpt, dir / "link.svg");
  fs::create_symlink(run_dir / "metrics.jsonl", dir / "log.svg");
  const auto before = snapshot(dir);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {fmt::format("trace --ckpt {} --input abc --out {}", ckpt, ckpt),
       "is the name of a run directory's file"},
      {fmt::format("trace --ckpt {} --input abc --out {}", run_dir.string(),
                   (run_dir / "best.h5").string()),
       "is the name of a run directory's file"},
      {fmt::format("trace --ckpt {} --input abc --out {}/./model.h5", (dir / "model.h5").string(),
                   dir.string()),
       "is the file this command reads"},
      {fmt::format("plot --metrics {} --out {}", run_dir.string(),
                   (run_dir / "metrics.jsonl").string()),
       "is the name of a run directory's file"},
      {fmt::format("plot --metrics {} --out {}", (dir / "trace.h5").string(),
                   (dir / "trace.h5").string()),
       "is the file this command reads"},
      {fmt::format("plot --metrics {} --out {}", run_dir.string(), run_dir.string()),
       "is a directory"},
      // A run's files under another name: through a link, or a checkpoint copied.
      {fmt::format("trace --ckpt {} --input abc --out {}", run_dir.string(),
                   (dir / "link.svg").string()),
       "link.svg: links to " + ckpt + ": 'checkpoint.h5' is the name of a run directory's file"},
      {fmt::format("plot --metrics {} --out {}", run_dir.string(), (dir / "log.svg").string()),
       "links to " + (run_dir / "metrics.jsonl").string()},
      {fmt::format("trace --ckpt {} --input abc --out {}", run_dir.string(),
                   (dir / "model.h5").string()),
       "model.h5: is an attnlab checkpoint"},
  };
  for (const auto& [args, why] : cases) {
    INFO(args);
    const Run r = run(args);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains(why));
  }
  CHECK(snapshot(dir) == before);  // every byte as it was, and no file left behind
  CHECK(attnlab::H5File::open_read(ckpt).exists("params"));
  CHECK(fs::is_symlink(dir / "link.svg"));
  // trace's own earlier output is replaced as asked.
  CHECK(run(fmt::format("trace --ckpt {} --input abc --out {}", run_dir.string(),
                        (dir / "trace.h5").string()))
            .exit_code == 0);
  fs::remove_all(dir);
}

TEST_CASE("output files: a FIFO or a missing directory is named, nothing is made or waited on") {
  const fs::path dir = fresh_dir("output_special");
  const std::string ckpt = tiny_checkpoint(dir);
  const fs::path fifo = dir / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  const fs::path missing = dir / "no" / "such";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {fmt::format("plot --metrics {} --out {}", (dir / "run").string(), fifo.string()),
       "is a device, FIFO or socket"},
      {fmt::format("trace --ckpt {} --input abc --out {}", ckpt, fifo.string()),
       "is a device, FIFO or socket"},
      {fmt::format("plot --metrics {} --out {}/c.svg", (dir / "run").string(), missing.string()),
       "does not exist"},
      {fmt::format("trace --ckpt {} --input abc --out {}/t.h5", ckpt, missing.string()),
       "does not exist"},
      {fmt::format("trace --ckpt {} --input abc --out {} --svg {}", ckpt, (dir / "t.h5").string(),
                   (missing / "svgs").string()),
       "does not exist"},
  };
  for (const auto& [args, why] : cases) {
    INFO(args);
    const Run r = run_bounded(args, dir / "log", 20);  // writing a FIFO would wait for a reader
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Contains(why));
  }
  CHECK_FALSE(fs::exists(dir / "no"));
  CHECK_FALSE(fs::exists(dir / "t.h5"));
  struct stat st {};
  CHECK((::stat(fifo.c_str(), &st) == 0 && S_ISFIFO(st.st_mode)));  // still a FIFO
  fs::remove_all(dir);
}

TEST_CASE("output files: HDF5 never replaces or deletes a device, FIFO or directory") {
  const fs::path dir = fresh_dir("output_h5_special");
  const fs::path fifo = dir / "fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0644) == 0);
  CHECK_THROWS_WITH(attnlab::H5File::create(fifo.string()), Contains("is not a regular file"));
  CHECK_THROWS_WITH(attnlab::H5File::create(dir.string()), Contains("is not a regular file"));
  struct stat st {};
  CHECK((::stat(fifo.c_str(), &st) == 0 && S_ISFIFO(st.st_mode)));
  fs::remove_all(dir);
}

TEST_CASE("output files: a plot that cannot be written leaves the old one and no temporary") {
  const fs::path dir = fresh_dir("output_limit");
  // A long log: its chart (about 44 KB) is larger than the file-size limit below.
  {
    std::ofstream log(dir / "metrics.jsonl");
    for (int step = 1; step <= 3000; ++step)
      log << fmt::format(
          "{{\"step\": {}, \"split\": \"train\", \"loss\": {}, \"lr\": 0.001, "
          "\"grad_norm\": 1.0, \"tokens_per_s\": 1000.0, \"elapsed_s\": {}}}\n",
          step, 3.0 / std::pow(step, 0.3) + (step % 7) * 0.01, step * 0.1);
  }
  const fs::path svg = dir / "c.svg";
  { std::ofstream(svg) << "<svg>the old picture</svg>\n"; }
  // ulimit -f 40: 20 KB, room for the OpenMP runtime's own small files but
  // not for the chart; SIGXFSZ ignored, so a write past it fails instead.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    const std::string cmd = fmt::format(
        "trap '' XFSZ; ulimit -f 40; exec {} plot --metrics {} --out {} > {} 2>&1", ATTNLAB_BINARY,
        (dir / "metrics.jsonl").string(), svg.string(), (dir / "log").string());
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    ::_exit(127);
  }
  CHECK(wait_exit(child) == 1);
  CHECK_THAT(read_text(dir / "log"), Contains("cannot write " + svg.string()));
  CHECK(read_text(svg) == "<svg>the old picture</svg>\n");
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir)) files += entry.is_regular_file();
  CHECK(files == 3);  // the log, its chart's old version and the output log: no temporary
  fs::remove_all(dir);
}
