// What attnlab and its HDF5 structure walker (io/walker/main.cpp) agree on.
//
// attnlab starts the walker as
//   attnlab-hdf5-walker FILE PARENT_PID
// with file descriptor kReportFd open on a pipe. The walker writes
// kWalkStarted once it runs and kWalkDone once it has walked FILE and shut
// HDF5 down; it exits 0 whatever HDF5 reported. Only dying, or not ending in
// time, counts against the file.
#pragma once

namespace attnlab::h5 {

constexpr const char* kWalkerProgram = "attnlab-hdf5-walker";
constexpr int kReportFd = 3;
constexpr char kWalkStarted = 'S', kWalkDone = 'D';
// Set in the environment, makes the walker die as HDF5 does on a damaged
// file: for tests only.
constexpr const char* kWalkerCrashVariable = "ATTNLAB_HDF5_WALKER_CRASH_FOR_TEST";

}  // namespace attnlab::h5
