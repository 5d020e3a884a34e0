// The CPU backend object: every op in float and double (see cpu_kernels.hpp), and the thread
// count its kernels and OpenBLAS use (cpu/parallel.hpp).
#include "backend/cpu/cpu_backend.hpp"

#include <cblas.h>
#include <string>

#include "backend/cpu/cpu_kernels.hpp"
#include "backend/cpu/parallel.hpp"
#include "util/error.hpp"

namespace fsh::detail {

namespace {
class CpuBackend final : public Backend {
 public:
  // OpenBLAS always runs single-threaded: fsh shares work out among its own workers in a
  // partition that does not depend on the thread count, whereas OpenBLAS's own threading
  // changes which kernel path computes an element and so the bits of the result.
  CpuBackend() { openblas_set_num_threads(1); }
  const char* name() const override { return "cpu"; }

  void set_threads(int n) override {
    if (n < 0)
      throw usage_error("threads must be >= 0 (0 = all cores), got " + std::to_string(n));
    set_cpu_threads(n);
  }
  int threads() const override { return cpu_threads(); }

 protected:
  Kernels<float>& kernels_f32() override { return f32_; }
  Kernels<double>& kernels_f64() override { return f64_; }

 private:
  CpuKernels<float> f32_;
  CpuKernels<double> f64_;
};
}  // namespace

Backend& cpu_backend_instance() {
  static CpuBackend backend;
  return backend;
}

}  // namespace fsh::detail
