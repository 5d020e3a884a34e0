// The backend registry: the one place that knows which backends this build has. A CUDA
// backend, when one is written, is added here under FSH_WITH_CUDA and nowhere else.
#include "backend/registry.hpp"

#include <cblas.h>

#include <thread>

#include "backend/cpu/cpu_backend.hpp"
#include "backend/cpu/parallel.hpp"
#include "util/error.hpp"

namespace fsh {

namespace {
int g_threads = 0;
}

Backend& cpu_backend() { return detail::cpu_backend_instance(); }

Backend& default_backend() { return cpu_backend(); }

std::vector<std::string> backend_names() { return {"cpu"}; }

Backend& backend(const std::string& name) {
  if (name == "cpu") return cpu_backend();
  std::string known;
  for (const auto& n : backend_names()) known += (known.empty() ? "" : ", ") + n;
  throw usage_error("unknown backend '" + name + "' (this build has: " + known + ")");
}

void set_threads(int n) {
  if (n < 0) throw usage_error("threads must be >= 0 (0 = all cores), got " + std::to_string(n));
  int hw = static_cast<int>(std::thread::hardware_concurrency());
  g_threads = n == 0 ? (hw > 0 ? hw : 1) : n;
  openblas_set_num_threads(1);  // always: see cpu/cpu_backend.cpp
  detail::set_pool_threads(g_threads);
}

int threads() {
  if (g_threads == 0) {
    int hw = static_cast<int>(std::thread::hardware_concurrency());
    return hw > 0 ? hw : 1;
  }
  return g_threads;
}

}  // namespace fsh
