// The processes of one data-parallel run, and the few collective operations
// training needs from them. Backed by MPI when attnlab is built with it and
// started by mpirun (or another MPI launcher); otherwise a world of one
// process, where every operation is a no-op, so that a plain
// `attnlab train` never touches MPI.
//
// Every rank must make the same collective calls in the same order with the
// same sizes: a rank that skips one leaves the others waiting forever. So a
// rank that fails does not return to the training loop; main() aborts the
// whole job (Communicator::abort).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace attnlab::dist {

class Communicator {
 public:
  // The run's processes. Before init() (and without MPI), a world of one.
  static Communicator& world();

  int rank() const { return rank_; }
  int size() const { return size_; }
  // Ranks on this machine (for splitting its cores among them).
  int local_size() const { return local_size_; }
  bool is_root() const { return rank_ == 0; }
  bool distributed() const { return size_ > 1; }

  // In place: every rank ends with the elementwise sum (or maximum) over all
  // ranks. The result is the same on every rank, bit for bit.
  void sum(std::span<float> values) const;
  void sum(std::span<double> values) const;
  void max(std::span<int64_t> values) const;
  // Every rank ends with the root's values (same size on every rank).
  void broadcast(std::span<int64_t> values, int root = 0) const;
  // Every rank ends with the root's text (any length).
  void broadcast(std::string& text, int root = 0) const;
  // Every rank's values, concatenated in rank order (ranks may give different counts).
  std::vector<int64_t> gather_all(std::span<const int64_t> values) const;

  // Returns once every rank has called it.
  void barrier() const;

  // Ends every rank of the job with `code`, after this rank's message was printed.
  [[noreturn]] void abort(int code) const;

 private:
  friend bool init();
  friend void finalize();
  int rank_ = 0, size_ = 1, local_size_ = 1;
};

// Starts MPI when launched by an MPI launcher and built with MPI; a no-op
// otherwise. Returns true when MPI was started. Throws std::runtime_error if
// launched by mpirun but built without MPI with more than one process.
bool init();
// Ends MPI if init() started it.
void finalize();

}  // namespace attnlab::dist
