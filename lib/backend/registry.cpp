// The backend registry: the one place that knows which backends this build has. A CUDA
// backend, when one is written, is added here under FSH_WITH_CUDA and nowhere else.
#include "backend/registry.hpp"

#include "backend/cpu/cpu_backend.hpp"
#include "util/error.hpp"

namespace fsh {

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
  for (const auto& name : backend_names()) backend(name).set_threads(n);
}

int threads() { return cpu_backend().threads(); }

}  // namespace fsh
