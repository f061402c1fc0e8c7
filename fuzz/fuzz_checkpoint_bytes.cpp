// Fuzz target: the checkpoint loader on damaged files. The edits of
// fuzz_checkpoint, and raw byte flips written after them, so that a file's
// structure itself may be broken: the loader, with the structure walk of
// io/structure_walk.h in a separate process, must refuse such a file naming it and
// never crash. Slow (a process start per execution); fuzz_checkpoint spends
// its time on attnlab's checks instead.
//
// ATTNLAB_FUZZ_STRUCTURE_WALK=off turns the walk off, for bench/fuzz's long
// campaign: executions are then about 20 times faster, and a crash inside
// HDF5 stops only one of libFuzzer's fork-mode jobs. Each crash found that
// way is replayed with the walk on, which must refuse the file.
#include <cstdlib>
#include <cstring>

#include "fuzz/checkpoint_harness.h"
#include "io/hdf5.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* walk = std::getenv("ATTNLAB_FUZZ_STRUCTURE_WALK");
  if (walk && std::strcmp(walk, "off") == 0) attnlab::set_structure_walk(false);
  attnlab::fuzz::start_checkpoint_harness();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  attnlab::fuzz::run_checkpoint_input(data, size, attnlab::fuzz::Edits::AlsoRawBytes);
  return 0;
}
