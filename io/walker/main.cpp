// attnlab-hdf5-walker: opens one HDF5 file and reads its whole structure the
// way attnlab's loader would (every object, every attribute, every dataset's
// type and shape, every single string and small attribute value), in a
// process of its own. HDF5 trusts what it reads, and some damaged files make
// it free memory it never allocated; if that kills this process, attnlab
// refuses the file instead of dying itself (io/structure_walk.h).
//
// An internal helper: attnlab starts it, and io/walker/protocol.h says how.
// It links HDF5 and nothing of attnlab, so that the io library can depend on
// it being built.
#include <hdf5.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/sanitizers.h"
#include "io/walker/protocol.h"

namespace {

using namespace attnlab::h5;

// Reads the variable-length string of a one-element attribute or dataset,
// as the loader does, and frees it.
void walk_string(hid_t object, bool is_attribute, hid_t type) {
  const hid_t mem = H5Tcopy(H5T_C_S1);
  H5Tset_size(mem, H5T_VARIABLE);
  H5Tset_cset(mem, H5Tget_cset(type));  // as the real read does: HDF5 converts no cset
  char* text = nullptr;
  const herr_t read = is_attribute ? H5Aread(object, mem, &text)
                                   : H5Dread(object, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text);
  if (read >= 0 && text) H5free_memory(text);
  H5Tclose(mem);
}

bool is_one_variable_string(hid_t type, hssize_t n) {
  return H5Tget_class(type) == H5T_STRING && H5Tis_variable_str(type) > 0 && n == 1;
}

herr_t walk_attribute(hid_t object, const char* name, const H5A_info_t*, void*) {
  const hid_t attr = H5Aopen(object, name, H5P_DEFAULT);
  if (attr < 0) return 0;
  const hid_t type = H5Aget_type(attr), space = H5Aget_space(attr);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  if (is_one_variable_string(type, n)) {
    walk_string(attr, /*is_attribute=*/true, type);
  } else if (n > 0 && n < (1 << 20) && H5Tget_size(type) <= 64) {
    std::vector<char> buf(size_t(n) * H5Tget_size(type));
    H5Aread(attr, type, buf.data());
  }
  H5Sclose(space);
  H5Tclose(type);
  H5Aclose(attr);
  return 0;
}

herr_t walk_object(hid_t root, const char* name, const H5O_info_t* info, void*) {
  const hid_t object = H5Oopen(root, name, H5P_DEFAULT);
  if (object < 0) return 0;
  H5Aiterate2(object, H5_INDEX_NAME, H5_ITER_INC, nullptr, walk_attribute, nullptr);
  if (info->type == H5O_TYPE_DATASET) {
    const hid_t type = H5Dget_type(object), space = H5Dget_space(object);
    if (is_one_variable_string(type, H5Sget_simple_extent_npoints(space)))
      walk_string(object, /*is_attribute=*/false, type);
    H5Sclose(space);
    H5Tclose(type);
  }
  H5Oclose(object);
  return 0;
}

void report(char what) {
  while (::write(kReportFd, &what, 1) < 0 && errno == EINTR) {
  }
}

// A walk needs the file's structure in memory, a few megabytes; damage can
// make HDF5 ask for far more (gigabytes, growing for tens of seconds). The
// address space is bounded by 1 GiB plus the file's size: past it HDF5's
// allocations fail and the walk ends, refusing the file or leaving it to
// attnlab's own checks. Not under AddressSanitizer or ThreadSanitizer, whose
// shadow memory alone reserves terabytes of address space (under ASan,
// attnlab sets ASan's own limit on resident memory; under TSan, a
// development build, nothing bounds it).
void limit_memory(const char* path) {
#ifndef ATTNLAB_SHADOW_MEMORY
  struct stat st {};
  const rlim_t file_bytes = ::stat(path, &st) == 0 ? rlim_t(st.st_size) : 0;
  const rlimit bound{(rlim_t(1) << 30) + file_bytes, (rlim_t(1) << 30) + file_bytes};
  ::setrlimit(RLIMIT_AS, &bound);
#else
  (void)path;
#endif
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr,
                 "usage: %s FILE PARENT_PID\n"
                 "An internal helper of attnlab: it reads the structure of the HDF5 file FILE "
                 "so that attnlab can refuse a file that makes HDF5 crash.\n",
                 kWalkerProgram);
    return 2;
  }
  const char* path = argv[1];
  // Die with the parent (a killed attnlab leaves no walker behind); if the
  // parent is already gone, stop now.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != std::atoi(argv[2])) return 0;
  report(kWalkStarted);
  if (std::getenv(kWalkerCrashVariable)) std::abort();
  limit_memory(path);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  const hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f >= 0) {
    H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_INC, walk_object, nullptr, H5O_INFO_BASIC);
    H5Fclose(f);
  }
  H5close();  // some damage shows only when the library frees what it read
  report(kWalkDone);
  ::_exit(0);
}
