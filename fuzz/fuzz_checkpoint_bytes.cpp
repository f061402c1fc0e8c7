// Fuzz target: the checkpoint loader on damaged files. The edits of
// fuzz_checkpoint, and raw byte flips written after them, so that a file's
// structure itself may be broken: the loader, with the structure walk of
// io/hdf5.cpp in a separate process, must refuse such a file naming it and
// never crash. Slow (a process start per execution); fuzz_checkpoint spends
// its time on attnlab's checks instead.
#include "fuzz/checkpoint_harness.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  attnlab::fuzz::start_checkpoint_harness();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  attnlab::fuzz::run_checkpoint_input(data, size, attnlab::fuzz::Edits::AlsoRawBytes);
  return 0;
}
