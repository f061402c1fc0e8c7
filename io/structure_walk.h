// Reading a damaged file without crashing: before HDF5 opens a file here, a
// separate process, attnlab-hdf5-walker (io/walker/), walks its structure.
// HDF5 trusts a file's structure, and some damaged bytes (a length in a
// global heap, which has no checksum) make it free memory it never
// allocated, killing the process. If HDF5 kills the walker, or the walk does
// not end within ATTNLAB_HDF5_WALK_SECONDS (default 60), the file is
// refused; only a file HDF5 can walk is opened. For io/ only; the switch to
// turn it off, set_structure_walk(), is in io/hdf5.h.
#pragma once

#include <string>

namespace attnlab::h5 {

// Throws, naming the file, when HDF5 dies walking it or does not finish in
// time. A file is walked once while it stays the same (a checkpoint is
// opened three times to resume from it). When the walker cannot be started
// or does not run as one, warns once on stderr and returns: the file is then
// read as HDF5 alone would read it.
void walk_structure(const std::string& path);

}  // namespace attnlab::h5
