// The CPU backend object: every op in float and double (see cpu_kernels.hpp), and the thread
// count its kernels and OpenBLAS use (cpu/parallel.hpp).
#include "backend/cpu/cpu_backend.hpp"

#include <string>

#include "backend/cpu/cpu_kernels.hpp"
#include "backend/cpu/parallel.hpp"
#include "util/error.hpp"

namespace fsh::detail {

namespace {
class CpuBackend final : public Backend {
 public:
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
