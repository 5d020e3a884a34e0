// MPI behind dist.hpp. FSH_HAVE_MPI is defined for this file alone when CMake found MPI
// (FSH_MPI=AUTO/ON); without it every process is rank 0 of 1.
#include "dist/dist.hpp"

#include <climits>
#include <cstdlib>

#include "util/error.hpp"

#if FSH_HAVE_MPI
// The C interface only: without these, mpi.h drags in the removed C++ bindings (libmpi_cxx).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace fsh::dist {

namespace {

bool g_started = false;   // init() called MPI_Init
bool g_finished = false;  // finalize() called MPI_Finalize
int g_rank = 0, g_size = 1, g_local = 1;

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

int env_int(std::initializer_list<const char*> names, int fallback) {
  for (const char* n : names)
    if (const char* v = env(n)) return std::atoi(v);
  return fallback;
}

#if FSH_HAVE_MPI
// MPI counts are ints: longer buffers go in pieces of this many elements.
constexpr std::size_t piece = std::size_t(1) << 28;

template <class T>
void send_pieces(const T* v, std::size_t n, MPI_Datatype type, int to) {
  std::size_t at = 0;
  do {  // once for n = 0: the receiver expects a message
    const int len = static_cast<int>(std::min(piece, n - at));
    MPI_Send(v + at, len, type, to, 0, MPI_COMM_WORLD);
    at += static_cast<std::size_t>(len);
  } while (at < n);
}

template <class T>
void recv_pieces(T* v, std::size_t n, MPI_Datatype type, int from) {
  std::size_t at = 0;
  do {  // once for n = 0: the receiver expects a message
    const int len = static_cast<int>(std::min(piece, n - at));
    MPI_Recv(v + at, len, type, from, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    at += static_cast<std::size_t>(len);
  } while (at < n);
}

template <class T>
void bcast_pieces(T* v, std::size_t n, MPI_Datatype type, int root) {
  for (std::size_t at = 0; at < n; at += piece) {
    const int len = static_cast<int>(std::min(piece, n - at));
    MPI_Bcast(v + at, len, type, root, MPI_COMM_WORLD);
  }
}
#endif

#if !FSH_HAVE_MPI
[[noreturn]] void no_mpi() {
  throw std::logic_error("dist: communication without MPI (a bug: size() is 1)");
}
#endif

}  // namespace

bool built_in() {
#if FSH_HAVE_MPI
  return true;
#else
  return false;
#endif
}

std::string description() {
#if FSH_HAVE_MPI
  // Both may be called before MPI_Init.
  char lib[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0, major = 0, minor = 0;
  MPI_Get_library_version(lib, &len);
  MPI_Get_version(&major, &minor);
  std::string name(lib, static_cast<std::size_t>(len));
  const auto cut = name.find_first_of(",\n");
  if (cut != std::string::npos) name.resize(cut);
  return "MPI: " + name + " (MPI " + std::to_string(major) + "." + std::to_string(minor) +
         "); fsh-train runs data-parallel under mpirun";
#else
  return "MPI: not built in (fsh-train runs as one process; configure with libopenmpi-dev "
         "installed for data-parallel training)";
#endif
}

bool launched() {
  return env("OMPI_COMM_WORLD_SIZE") || env("PMI_SIZE") || env("PMI_RANK") || env("PMIX_RANK");
}

int launcher_rank() {
  if (!launched()) return 0;
  return env_int({"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"}, 0);
}

int launcher_size() {
  if (!launched()) return 1;
  return env_int({"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS", "SLURM_NTASKS"}, 1);
}

void init() {
  if (g_started || !launched()) return;
#if FSH_HAVE_MPI
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  g_started = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  MPI_Comm_size(node, &g_local);
  MPI_Comm_free(&node);
#else
  const int n = launcher_size();
  if (n > 1)
    throw collective_error(
        "this build has no MPI (see --version), but an MPI launcher started it as one of " +
            std::to_string(n) +
            " processes, which would all do the same work; run one process, or rebuild with "
            "libopenmpi-dev installed (cmake -DFSH_MPI=ON)",
        2, launcher_rank() == 0);
#endif
}

void finalize() {
#if FSH_HAVE_MPI
  if (g_started && !g_finished) {
    MPI_Finalize();
    g_finished = true;
  }
#endif
}

void abort(int code) {
#if FSH_HAVE_MPI
  if (g_started && !g_finished) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::exit(code);
}

int rank() { return g_rank; }
int size() { return g_size; }
int local_size() { return g_local; }

#if FSH_HAVE_MPI
void send(const float* v, std::size_t n, int to) { send_pieces(v, n, MPI_FLOAT, to); }
void recv(float* v, std::size_t n, int from) { recv_pieces(v, n, MPI_FLOAT, from); }
void send(const double* v, std::size_t n, int to) { send_pieces(v, n, MPI_DOUBLE, to); }
void recv(double* v, std::size_t n, int from) { recv_pieces(v, n, MPI_DOUBLE, from); }
void broadcast(float* v, std::size_t n, int root) { bcast_pieces(v, n, MPI_FLOAT, root); }
void broadcast(double* v, std::size_t n, int root) { bcast_pieces(v, n, MPI_DOUBLE, root); }
void broadcast(int64_t* v, std::size_t n, int root) { bcast_pieces(v, n, MPI_INT64_T, root); }

void broadcast(std::string& s, int root) {
  int64_t n = static_cast<int64_t>(s.size());
  broadcast(&n, 1, root);
  s.resize(static_cast<std::size_t>(n));
  bcast_pieces(s.data(), s.size(), MPI_CHAR, root);
}

void barrier() { MPI_Barrier(MPI_COMM_WORLD); }

void max_all(int64_t* v, std::size_t n) {
  if (n > INT_MAX) throw std::length_error("dist::max_all: too many values");
  MPI_Allreduce(MPI_IN_PLACE, v, static_cast<int>(n), MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD);
}

std::vector<uint64_t> gather_all(uint64_t v) {
  std::vector<uint64_t> all(static_cast<std::size_t>(g_size));
  MPI_Allgather(&v, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD);
  return all;
}

std::vector<double> gather_all(const std::vector<double>& mine) {
  const int n = static_cast<int>(mine.size());
  std::vector<int> counts(static_cast<std::size_t>(g_size)), offsets(counts.size());
  MPI_Allgather(&n, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD);
  int total = 0;
  for (std::size_t p = 0; p < counts.size(); ++p) {
    offsets[p] = total;
    total += counts[p];
  }
  std::vector<double> all(static_cast<std::size_t>(total));
  MPI_Allgatherv(mine.data(), n, MPI_DOUBLE, all.data(), counts.data(), offsets.data(),
                 MPI_DOUBLE, MPI_COMM_WORLD);
  return all;
}
#else
void send(const float*, std::size_t, int) { no_mpi(); }
void recv(float*, std::size_t, int) { no_mpi(); }
void send(const double*, std::size_t, int) { no_mpi(); }
void recv(double*, std::size_t, int) { no_mpi(); }
void broadcast(float*, std::size_t, int) { no_mpi(); }
void broadcast(double*, std::size_t, int) { no_mpi(); }
void broadcast(int64_t*, std::size_t, int) { no_mpi(); }
void broadcast(std::string&, int) { no_mpi(); }
void barrier() {}
void max_all(int64_t*, std::size_t) { no_mpi(); }
std::vector<uint64_t> gather_all(uint64_t v) { return {v}; }
std::vector<double> gather_all(const std::vector<double>& mine) { return mine; }
#endif

namespace {

// Runs f, returning 0 or the exit code its exception means (with its message).
int attempt(const std::function<void()>& f, std::string& message) {
  try {
    f();
    return 0;
  } catch (const collective_error& e) {
    message = e.what();
    return e.code;
  } catch (const usage_error& e) {
    message = e.what();
    return 2;
  } catch (const std::exception& e) {
    message = e.what();
    return 1;
  }
}

}  // namespace

void all_or_none(const std::function<void()>& f) {
  if (g_size <= 1) return f();
  std::string message;
  const int code = attempt(f, message);
  // The lowest failing rank, found as the maximum of size - rank over those that failed.
  int64_t lowest = code ? g_size - g_rank : 0;
  max_all(&lowest, 1);
  if (lowest == 0) return;
  const int root = g_size - static_cast<int>(lowest);
  int64_t c = code;
  broadcast(&c, 1, root);
  broadcast(message, root);
  throw collective_error(message, static_cast<int>(c), g_rank == root);
}

void on_root(const std::function<void()>& f) {
  if (g_size <= 1) return f();
  std::string message;
  int64_t code = g_rank == 0 ? attempt(f, message) : 0;
  broadcast(&code, 1, 0);
  if (code == 0) return;
  broadcast(message, 0);
  throw collective_error(message, static_cast<int>(code), g_rank == 0);
}

}  // namespace fsh::dist
