// Where backends come from. The CPU backend (xtensor-blas / OpenBLAS) always exists; the
// registry (registry.cpp) is the one place that knows about optional ones such as CUDA.
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

// Worker threads of the compute libraries (OpenBLAS and fsh's own loops); 0 = all cores.
// Results do not depend on the thread count except through BLAS summation order.
void set_threads(int n);
int threads();

}  // namespace fsh
