// Where backends come from. The CPU backend (OpenBLAS and fsh's own loops) always exists; the
// registry (registry.cpp) is the one place that knows about optional ones such as CUDA. The
// dependency runs one way: the registry includes the backends, never the reverse.
#pragma once
#include <string>
#include <vector>

#include "backend/backend.hpp"

namespace fsh {

// The backend used when none is named: today the CPU backend.
Backend& default_backend();
// The CPU backend, always available (the reference every other backend is tested against).
Backend& cpu_backend();
// Names of the backends compiled into this build, default first ("cpu").
std::vector<std::string> backend_names();
// The backend called name; throws usage_error listing backend_names() when unknown.
Backend& backend(const std::string& name);

// Host worker threads for every backend of this build (Backend::set_threads on each; 0 = all
// cores); throws usage_error for n < 0 before changing any. threads() is the CPU backend's
// count. Results do not depend on the thread count.
void set_threads(int n);
int threads();

}  // namespace fsh
