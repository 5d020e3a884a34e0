// What fsh-bench measures about the process itself: wall and CPU time, resident memory and
// its high-water mark, and which BLAS kernels run. Linux-specific where it must be (/proc);
// every figure says how it was obtained, so a report never presents an estimate as a
// measurement.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace fsh::bench {

// Seconds on the monotonic clock since construction.
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

// User + system CPU time of the whole process (every thread) so far, in seconds
// (getrusage(RUSAGE_SELF)).
double process_cpu_seconds();

// The system's 1-minute load average (/proc/loadavg; -1 where unknown) and the CPUs online:
// together they say whether a run had the machine to itself (wall times and rates measured on
// a shared machine are lower than it can do alone).
double load_average();
int cpus_online();

// Peak resident memory of a stretch of work. Where Linux allows it (writing "5" to
// /proc/self/clear_refs resets the high-water mark VmHWM to the current VmRSS), the peak is
// that of the stretch alone: start() releases freed heap memory to the system (malloc_trim),
// resets the mark and records the resident memory then (the baseline: everything the process
// holds before the stretch -- program, datasets, episodes); peak() reads VmHWM. Elsewhere the
// figure is getrusage's ru_maxrss, the peak of the whole process so far (`per_stretch` false).
class PeakMemory {
 public:
  void start();
  struct Reading {
    double peak_mib = 0;      // high-water mark of resident memory
    double baseline_mib = 0;  // resident memory when start() was called
    bool per_stretch = false; // true: VmHWM reset at start(); false: ru_maxrss of the process
    std::string source;       // "VmHWM (reset per stretch)" or "ru_maxrss (whole process)"
  };
  Reading read() const;

 private:
  bool reset_ = false;
  double baseline_mib_ = 0;
};

// The BLAS library as it names itself (OpenBLAS: openblas_get_corename(), e.g. "Haswell";
// openblas_get_config(), e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64").
struct BlasIdentity {
  std::string corename;
  std::string config;
};
BlasIdentity blas_identity();

}  // namespace fsh::bench
