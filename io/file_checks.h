// Checks of an HDF5 file's raw bytes, made before HDF5 reads the parts they
// cover. HDF5 trusts some structures that have no checksum (the global heaps
// where variable-length strings live, and the references to them in a
// dataset's raw data); damaged ones make it copy or free memory it never
// owned. These functions read those structures themselves and throw,
// naming the file and the byte, when they are inconsistent. For io/ only.
#pragma once

#include <hdf5.h>

#include <string>

namespace attnlab::h5 {

// Checks every global heap collection in the file at `path`: each must be at
// least HDF5's minimum size, fit in the file, and hold objects that fit in
// it. A file that cannot be opened is left to the real open to report.
void check_global_heaps(const std::string& path);

// Before HDF5 reads the variable-length string of dataset `dset` (named
// `where` in messages) of the file at `path`: its reference must name an
// object of a global heap, of the string's length.
void check_string_reference(const std::string& path, const std::string& where, hid_t dset);

}  // namespace attnlab::h5
