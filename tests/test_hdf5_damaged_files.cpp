// HDF5 files damaged anywhere never crash attnlab: the structure walk in a
// separate process (io/structure_walk.h), its time and memory bounds, and
// byte flips over a whole checkpoint.
#include <hdf5.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>

#include "checkpoint_fixtures.h"
#include "cli_process.h"
#include "common/errors.h"
#include "common/sanitizers.h"
#include "documented_checksums.h"
#include "io/hdf5.h"
#include "models/config.h"
#include "optim/optim.h"
#include "train/checkpoint.h"

using namespace cli_test;
using Catch::Matchers::Contains;

TEST_CASE("hdf5: the structure walk of a hostile checkpoint stays within its memory bound") {
#ifdef ATTNLAB_SHADOW_MEMORY
  WARN(
      "skipped: under AddressSanitizer the walker's bound is ASan's hard_rss_limit_mb, under "
      "ThreadSanitizer there is none");
#else
  // tests/data/walker-memory.h5 is a checkpoint with flipped bytes, the same
  // file as fuzz/corpus/checkpoint_bytes/regress-walker-memory. Walking it
  // makes HDF5 1.10 allocate without end: 3.5 GB in 14 s when the walker's
  // address space is not bounded. Bounded to 1 GiB plus the file's size,
  // its allocations fail and the walk ends.
  const fs::path dir = fresh_dir("hard_walker_memory");
  const pid_t child = spawn(
      fmt::format("predict --ckpt {} abc", ATTNLAB_TEST_DATA_DIR "/walker-memory.h5"), dir / "log");
  int status = 0;
  rusage usage{};
  REQUIRE(::wait4(child, &status, 0, &usage) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 2);  // refused as damaged
  CHECK_THAT(read_text(dir / "log"), Contains("is damaged"));
  // ru_maxrss (KiB) is the largest of attnlab and the walker it waited for.
  CHECK(usage.ru_maxrss < (1 << 20));
  fs::remove_all(dir);
#endif
}

TEST_CASE("hdf5: a flipped byte anywhere in a checkpoint never crashes the loader") {
  // Checkpoints use HDF5's 1.8 formats, whose metadata is checksummed: the
  // oldest formats have none, and HDF5 crashes reading some flipped bits in
  // them (in an attribute table, for one).
  const fs::path dir = fresh_dir("hard_flip");
  const std::string ckpt = tiny_checkpoint(dir);
  std::string bytes = read_text(ckpt);
  REQUIRE(bytes.size() > 1000);
  CHECK(bytes[8] == 2);  // superblock version 2: the 1.8 formats
  const fs::path copy = dir / "flipped.h5";
  size_t refused = 0, loaded = 0;
  for (size_t offset = 0; offset < bytes.size(); offset += 601) {
    CAPTURE(offset);
    bytes[offset] ^= 0x10;
    { std::ofstream(copy, std::ios::binary) << bytes; }
    bytes[offset] ^= 0x10;
    try {
      const attnlab::CheckpointInfo info = attnlab::read_checkpoint_info(copy.string());
      const auto model = attnlab::make_model(info.model);
      attnlab::load_parameters(copy.string(), *model);
      attnlab::OptimizerConfig oc;
      oc.kind = info.train.optimizer;
      attnlab::Optimizer optimizer(model->named_parameters(), oc);
      attnlab::load_optimizer_state(copy.string(), optimizer);
      ++loaded;
    } catch (const attnlab::InputError& e) {
      ++refused;
      INFO(e.what());
      CHECK_THAT(e.what(), Contains(copy.string()));
    }
  }
  INFO("refused " << refused << ", loaded " << loaded);
  CHECK(refused > 10 * loaded);  // the flips that load fell where nothing reads
  fs::remove_all(dir);
}

TEST_CASE("hdf5: a structure walk that dies or does not end in time refuses the file") {
  // Before HDF5 opens a file here, a separate process walks its structure
  // (io/structure_walk.h). A walker that hangs must not hang attnlab: past
  // ATTNLAB_HDF5_WALK_SECONDS it is killed and the file refused. A limit of
  // a nanosecond stands in for a hostile file that makes HDF5 loop.
  const fs::path dir = fresh_dir("hard_walk_limit");
  const std::string ckpt = tiny_checkpoint(dir);
  ::setenv("ATTNLAB_HDF5_WALK_SECONDS", "1e-9", 1);
  const std::string refusal = refusal_of_info(ckpt);
  CHECK_THAT(refusal, Contains("file '" + ckpt + "' is damaged or unreadable"));
  CHECK_THAT(refusal, Contains("did not finish reading its structure within 1e-09 s"));
  CHECK_THAT(refusal, Contains("ATTNLAB_HDF5_WALK_SECONDS"));
  int status = 0;
  const pid_t left = ::waitpid(-1, &status, WNOHANG);
  const int why = errno;
  CHECK(left == -1);  // no walker left, not even a zombie
  CHECK(why == ECHILD);

  ::setenv("ATTNLAB_HDF5_WALK_SECONDS", "soon", 1);
  CHECK_THAT(refusal_of_info(ckpt),
             Contains("environment variable ATTNLAB_HDF5_WALK_SECONDS='soon': expected a "
                      "positive number of seconds"));
  ::unsetenv("ATTNLAB_HDF5_WALK_SECONDS");

  // A walker that dies, as HDF5 does on some damaged files, refuses the file.
  ::setenv("ATTNLAB_HDF5_WALKER_CRASH_FOR_TEST", "1", 1);
  CHECK_THAT(refusal_of_info(ckpt),
             Contains("file '" + ckpt +
                      "' is damaged: HDF5 fails while reading its structure (signal 6)"));
  ::unsetenv("ATTNLAB_HDF5_WALKER_CRASH_FOR_TEST");
  CHECK(refusal_of_info(ckpt) == "(loaded)");  // the default limit lets it through
  fs::remove_all(dir);
}
