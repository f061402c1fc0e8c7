// Fuzz target: the checkpoint loader, as `eval`/`predict` (load_run) and
// `train --resume` (the optimizer state) use it, on checkpoints edited only
// through HDF5 itself (fuzz/checkpoint_harness.h). Such files are well
// formed HDF5, so the structure walk that guards against HDF5's own crashes
// (io/structure_walk.h) is turned off: each execution then costs a few milliseconds,
// not a process start, and the time goes to attnlab's checks.
// fuzz_checkpoint_bytes covers damaged files, with the walk.
#include "fuzz/checkpoint_harness.h"
#include "io/hdf5.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  attnlab::set_structure_walk(false);
  attnlab::fuzz::start_checkpoint_harness();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  attnlab::fuzz::run_checkpoint_input(data, size, attnlab::fuzz::Edits::ThroughHdf5);
  return 0;
}
