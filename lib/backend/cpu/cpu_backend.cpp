// The CPU backend object: every op in float and double (see cpu_kernels.hpp).
#include "backend/cpu/cpu_backend.hpp"

#include "backend/cpu/cpu_kernels.hpp"

namespace fsh::detail {

namespace {
class CpuBackend final : public Backend {
 public:
  const char* name() const override { return "cpu"; }
  bool supports(Op, DType) const override { return true; }

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
