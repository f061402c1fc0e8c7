#include "dist/communicator.h"

#include <fmt/format.h>

#include <cstdlib>
#include <limits>
#include <stdexcept>

#ifdef ATTNLAB_HAVE_MPI
#include <mpi.h>
#endif

namespace attnlab::dist {

namespace {

bool g_started = false;  // init() called MPI_Init_thread

// The world size a launcher announced to this process (0: none): Open MPI's
// mpirun, or a PMI launcher (MPICH's hydra, srun --mpi=pmi2). Not Slurm's
// SLURM_NTASKS: a whole batch job has it, also for processes no launcher started.
int announced_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"})
    if (const char* value = std::getenv(name)) return std::atoi(value);
  return 0;
}

#ifdef ATTNLAB_HAVE_MPI
// MPI counts are ints: larger buffers go in pieces.
constexpr std::size_t kMaxCount = std::size_t(std::numeric_limits<int>::max());
// All-reduces go in pieces of 1M elements (4 MB of floats). Open MPI 4.1 takes
// a scratch buffer the size of the message for each call: on 2 ranks of one
// machine, 51 MB in one call took 120 ms (its fresh pages are faulted in every
// time), and in pieces of 4 MB 12 ms.
constexpr std::size_t kReducePiece = std::size_t(1) << 20;

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(rc, text, &length);
  throw std::runtime_error(fmt::format("MPI {} failed: {}", what, std::string(text, length)));
}

template <typename T>
void allreduce(T* data, std::size_t n, MPI_Datatype type, MPI_Op op) {
  for (std::size_t done = 0; done < n; done += kReducePiece) {
    const int count = int(std::min(kReducePiece, n - done));
    check(MPI_Allreduce(MPI_IN_PLACE, data + done, count, type, op, MPI_COMM_WORLD), "allreduce");
  }
}

template <typename T>
void bcast(T* data, std::size_t n, MPI_Datatype type, int root) {
  for (std::size_t done = 0; done < n; done += kMaxCount) {
    const int count = int(std::min(kMaxCount, n - done));
    check(MPI_Bcast(data + done, count, type, root, MPI_COMM_WORLD), "broadcast");
  }
}
#endif

}  // namespace

Communicator& Communicator::world() {
  static Communicator world;
  return world;
}

bool init() {
  if (g_started || announced_size() == 0) return g_started;  // not started by a launcher
#ifdef ATTNLAB_HAVE_MPI
  // Only the main thread calls MPI; OpenMP threads never do.
  int provided = 0;
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "init");
  g_started = true;
  Communicator& w = Communicator::world();
  MPI_Comm_rank(MPI_COMM_WORLD, &w.rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &w.size_);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local);
  MPI_Comm_size(local, &w.local_size_);
  MPI_Comm_free(&local);
  // A failing rank must end the job, not leave the others waiting in a collective.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  return true;
#else
  if (announced_size() > 1)
    throw std::runtime_error(fmt::format(
        "started by an MPI launcher with {} processes, but this attnlab was built without MPI "
        "(install libopenmpi-dev and rebuild: bash .ci/setup)",
        announced_size()));
  return false;
#endif
}

void finalize() {
#ifdef ATTNLAB_HAVE_MPI
  if (g_started) {
    MPI_Finalize();
  }
#endif
  g_started = false;
}

void Communicator::sum(std::span<float> values) const {
#ifdef ATTNLAB_HAVE_MPI
  if (size_ > 1) allreduce(values.data(), values.size(), MPI_FLOAT, MPI_SUM);
#endif
}

void Communicator::sum(std::span<double> values) const {
#ifdef ATTNLAB_HAVE_MPI
  if (size_ > 1) allreduce(values.data(), values.size(), MPI_DOUBLE, MPI_SUM);
#endif
}

void Communicator::max(std::span<int64_t> values) const {
#ifdef ATTNLAB_HAVE_MPI
  if (size_ > 1) allreduce(values.data(), values.size(), MPI_INT64_T, MPI_MAX);
#endif
}

void Communicator::broadcast(std::span<int64_t> values, int root) const {
#ifdef ATTNLAB_HAVE_MPI
  if (size_ > 1) bcast(values.data(), values.size(), MPI_INT64_T, root);
#endif
}

void Communicator::broadcast(std::string& text, int root) const {
#ifdef ATTNLAB_HAVE_MPI
  if (size_ <= 1) return;
  int64_t length = int64_t(text.size());
  broadcast(std::span<int64_t>(&length, 1), root);
  text.resize(std::size_t(length));
  bcast(text.data(), text.size(), MPI_CHAR, root);
#endif
}

std::vector<int64_t> Communicator::gather_all(std::span<const int64_t> values) const {
  std::vector<int64_t> all(values.begin(), values.end());
#ifdef ATTNLAB_HAVE_MPI
  if (size_ <= 1) return all;
  int count = int(values.size());
  std::vector<int> counts(static_cast<std::size_t>(size_));
  std::vector<int> offsets(counts.size());
  check(MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD), "allgather");
  int total = 0;
  for (int r = 0; r < size_; ++r) offsets[std::size_t(r)] = total, total += counts[std::size_t(r)];
  all.resize(std::size_t(total));
  check(MPI_Allgatherv(values.data(), count, MPI_INT64_T, all.data(), counts.data(), offsets.data(),
                       MPI_INT64_T, MPI_COMM_WORLD),
        "allgather");
#endif
  return all;
}

void Communicator::barrier() const {
#ifdef ATTNLAB_HAVE_MPI
  if (size_ > 1) check(MPI_Barrier(MPI_COMM_WORLD), "barrier");
#endif
}

void Communicator::abort(int code) const {
#ifdef ATTNLAB_HAVE_MPI
  if (g_started && size_ > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}

}  // namespace attnlab::dist
