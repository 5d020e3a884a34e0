// Process measurements (see measure.hpp).
#include "bench/measure.hpp"

#include <cblas.h>
#include <malloc.h>
#include <sys/resource.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace fsh::bench {

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec) + 1e-6 * double(u.ru_utime.tv_usec) +
         double(u.ru_stime.tv_sec) + 1e-6 * double(u.ru_stime.tv_usec);
}

namespace {

// A "VmXXX:   1234 kB" line of /proc/self/status, in MiB; -1 when there is none.
double status_mib(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size() + 1, key + ":") != 0) continue;
    std::istringstream s(line.substr(key.size() + 1));
    double kb = -1;
    s >> kb;
    return kb < 0 ? -1 : kb / 1024.0;
  }
  return -1;
}

double maxrss_mib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1024.0;  // Linux: kilobytes
}

}  // namespace

double load_average() {
  std::ifstream in("/proc/loadavg");
  double load = -1;
  if (!(in >> load)) return -1;
  return load;
}

int cpus_online() { return static_cast<int>(std::thread::hardware_concurrency()); }

void PeakMemory::start() {
  malloc_trim(0);
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.close();
  // The reset worked when the mark is back at the current resident size (it may have grown by
  // a page or two since).
  const double rss = status_mib("VmRSS"), hwm = status_mib("VmHWM");
  reset_ = clear.good() && rss > 0 && hwm > 0 && hwm <= rss + 1.0;
  baseline_mib_ = rss > 0 ? rss : 0;
}

PeakMemory::Reading PeakMemory::read() const {
  Reading r;
  r.baseline_mib = baseline_mib_;
  const double hwm = status_mib("VmHWM");
  if (reset_ && hwm > 0) {
    r.peak_mib = hwm;
    r.per_stretch = true;
    r.source = "VmHWM (reset per stretch)";
  } else {
    r.peak_mib = maxrss_mib();
    r.source = "ru_maxrss (whole process)";
  }
  return r;
}

BlasIdentity blas_identity() {
  // TODO(lead): use lib/backend/cpu/blas_info (blas_runtime(), blas_summary()) once it is on
  // main; it reports the same two strings plus who chose the kernel.
  BlasIdentity b;
  if (const char* c = openblas_get_corename()) b.corename = c;
  if (const char* c = openblas_get_config()) b.config = c;
  // OpenBLAS pads the config with a trailing space.
  while (!b.config.empty() && b.config.back() == ' ') b.config.pop_back();
  return b;
}

}  // namespace fsh::bench
