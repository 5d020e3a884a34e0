// Several processes working as one (MPI), behind a small interface: data-parallel meta-training
// (methods/trainer.cpp) uses it, and dist.cpp is the only file that includes mpi.h. In a build
// without MPI (CMake FSH_MPI=OFF, or AUTO without libopenmpi-dev) or in a process not started
// by an MPI launcher, the process is rank 0 of 1 and nothing here talks to anyone.
//
// The operations are those the trainer needs, on the world communicator, all blocking, all
// moving bits unchanged: point-to-point sends (the fixed-order gradient chain), broadcasts, an
// element-wise maximum of integers and gathers. None of them adds floating-point numbers: a
// reduction whose rounding depended on the number of processes (MPI_Allreduce, a tree) would
// make results depend on P.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace fsh::dist {

// Whether this build has MPI.
bool built_in();
// One line for --version: "MPI: Open MPI v4.1.4 (MPI 3.1); data-parallel fsh-train under
// mpirun" or "MPI: not built in (...)".
std::string description();

// Whether an MPI launcher (mpirun/mpiexec, srun with PMI/PMIx) started this process, read from
// the environment the launcher sets (OMPI_COMM_WORLD_SIZE, PMI_SIZE/PMI_RANK, PMIX_RANK); and
// the rank and size it gave (rank 0 of 1 when none), known before init().
bool launched();
int launcher_rank();
int launcher_size();

// Starts MPI when launched() (MPI_Init_thread, FUNNELED: only the main thread calls MPI; BLAS
// threads never do); a plain run never starts the MPI runtime. Idempotent. Throws usage_error
// when a launcher started several processes and this build has no MPI.
void init();
// Ends MPI (MPI_Finalize) when init() started it; every rank must call it. Idempotent.
void finalize();
// Ends every process of the job at once with this exit code (MPI_Abort); for a failure that
// only this rank knows about while the others wait in a collective operation.
[[noreturn]] void abort(int code);

int rank();        // 0 without MPI
int size();        // 1 without MPI
int local_size();  // processes of this job on this node (1 without MPI)

// ---- communication (world communicator; only meaningful with size() > 1) ---------------------
void send(const float* v, std::size_t n, int to);
void recv(float* v, std::size_t n, int from);
void send(const double* v, std::size_t n, int to);
void recv(double* v, std::size_t n, int from);
void broadcast(float* v, std::size_t n, int root);
void broadcast(double* v, std::size_t n, int root);
void broadcast(int64_t* v, std::size_t n, int root);
void broadcast(std::string& s, int root);
// Returns when every rank has called it.
void barrier();
// Element-wise maximum over the ranks, in place, on every rank (exact: integers).
void max_all(int64_t* v, std::size_t n);
// Every rank's value, in rank order, on every rank.
std::vector<uint64_t> gather_all(uint64_t v);
std::vector<uint64_t> gather_all(double v) = delete;  // not a hash: use the vector form
// Every rank's `mine` concatenated in rank order, on every rank.
std::vector<double> gather_all(const std::vector<double>& mine);

// ---- failing together --------------------------------------------------------------------------
// A failure that all ranks agreed on: every rank throws one, with the same exit code (2 for a
// usage_error, 1 for anything else); `report` is true on exactly one rank (the lowest that
// failed), which prints the message, so a job prints it once.
struct collective_error : std::runtime_error {
  collective_error(const std::string& what, int code, bool report)
      : std::runtime_error(what), code(code), report(report) {}
  int code;
  bool report;
};

// Runs f on every rank; when it throws on any, every rank throws collective_error (the
// message is the lowest failing rank's). Without MPI (size 1) it just runs f.
void all_or_none(const std::function<void()>& f);
// Runs f on rank 0 only (files are rank 0's); when it throws, every rank throws
// collective_error. Without MPI it just runs f.
void on_root(const std::function<void()>& f);

// The split of `count` items among `parts` (contiguous, in order, the first count % parts
// blocks one longer): block p is [begin(p), begin(p + 1)).
inline int64_t block_begin(int64_t count, int parts, int p) {
  const int64_t base = count / parts, extra = count % parts;
  return p * base + std::min<int64_t>(p, extra);
}

}  // namespace fsh::dist
