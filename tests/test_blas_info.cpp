// Tests of lib/backend/cpu/blas_info: the BLAS kernel advice (a pure function of the kernel
// name, the processor's features and whether OPENBLAS_CORETYPE was set), the kernel families,
// and the gemm self-test on whatever kernels this process runs. The whole flow through a
// tool (warning, FSH_BLAS_CORETYPE=auto restart, fallback) is tests/cli/blas_notice.sh.
#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "backend/cpu/blas_info.hpp"

using fsh::BlasAdvice;
using fsh::BlasTier;
using fsh::CpuFeatures;

namespace {

CpuFeatures cpu(bool amd, bool avx, bool avx2, bool avx512) {
  CpuFeatures f;
  f.known = true;
  f.amd = amd;
  f.avx = avx;
  f.avx2 = avx2;
  f.fma = avx2;
  f.avx512 = avx512;
  return f;
}
const CpuFeatures intel_avx512 = cpu(false, true, true, true);  // e.g. a Xeon Gold
const CpuFeatures amd_avx512 = cpu(true, true, true, true);     // e.g. EPYC Genoa
const CpuFeatures intel_avx2 = cpu(false, true, true, false);
const CpuFeatures amd_avx2 = cpu(true, true, true, false);
const CpuFeatures intel_avx = cpu(false, true, false, false);  // Sandy Bridge
const CpuFeatures sse_only = cpu(false, false, false, false);
const std::optional<std::string> unset;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("Prescott kernels on an AVX-512 processor: one warning with the exact remedy") {
  const BlasAdvice a = fsh::blas_advice("Prescott", true, intel_avx512, unset);
  CHECK(a.level == BlasAdvice::warning);
  CHECK(a.better_core == "SkylakeX");
  CHECK(contains(a.text, "export OPENBLAS_CORETYPE=SkylakeX"));
  CHECK(contains(a.text, "Prescott"));
  CHECK(contains(a.text, "several times slower"));
  CHECK(!contains(a.text, "\n"));  // one line
  // The same on AMD: the AVX-512 kernels are SkylakeX for every vendor.
  CHECK(fsh::blas_advice("Prescott", true, amd_avx512, unset).better_core == "SkylakeX");
}

TEST_CASE("an explicit OPENBLAS_CORETYPE is respected: a note (for --verbose), no warning") {
  // This machine's setting: Haswell on an AMD processor with AVX-512, on purpose.
  const BlasAdvice a = fsh::blas_advice("Haswell", true, amd_avx512, std::string("Haswell"));
  CHECK(a.level == BlasAdvice::note);
  CHECK(contains(a.text, "OPENBLAS_CORETYPE=Haswell"));
  CHECK(contains(a.text, "SkylakeX"));
  CHECK(fsh::blas_advice("Prescott", true, intel_avx512, std::string("prescott")).level ==
        BlasAdvice::note);
}

TEST_CASE("older kernels chosen by OpenBLAS: a warning naming the right kernels") {
  const BlasAdvice a = fsh::blas_advice("Haswell", true, intel_avx512, unset);
  CHECK(a.level == BlasAdvice::warning);
  CHECK(a.better_core == "SkylakeX");
  CHECK(contains(a.text, "export OPENBLAS_CORETYPE=SkylakeX"));
  CHECK(!contains(a.text, "several times"));  // one family apart: just "slower"
  // AVX2 without AVX-512: Haswell on Intel, Zen on AMD.
  CHECK(fsh::blas_advice("Prescott", true, intel_avx2, unset).better_core == "Haswell");
  CHECK(fsh::blas_advice("Nehalem", true, amd_avx2, unset).better_core == "Zen");
  CHECK(fsh::blas_advice("Core2", true, intel_avx, unset).better_core == "Sandybridge");
}

TEST_CASE("kernels that match the processor: nothing to say") {
  CHECK(fsh::blas_advice("SkylakeX", true, intel_avx512, unset).level == BlasAdvice::none);
  CHECK(fsh::blas_advice("Cooperlake", true, amd_avx512, unset).level == BlasAdvice::none);
  CHECK(fsh::blas_advice("SapphireRapids", true, intel_avx512, unset).level == BlasAdvice::none);
  CHECK(fsh::blas_advice("Haswell", true, intel_avx2, unset).level == BlasAdvice::none);
  CHECK(fsh::blas_advice("Zen", true, intel_avx2, unset).level == BlasAdvice::none);
  CHECK(fsh::blas_advice("Haswell", true, amd_avx2, unset).level == BlasAdvice::none);
  CHECK(fsh::blas_advice("Sandybridge", true, intel_avx, unset).level == BlasAdvice::none);
  CHECK(fsh::blas_advice("Prescott", true, sse_only, unset).level == BlasAdvice::none);
  CHECK(fsh::blas_advice("Nehalem", true, sse_only, unset).level == BlasAdvice::none);
}

TEST_CASE("unknown kernels or processors: no advice rather than a wrong one") {
  CHECK(fsh::blas_advice("Unknown", true, intel_avx512, unset).level == BlasAdvice::none);
  CHECK(fsh::blas_advice("NEOVERSEN1", true, intel_avx512, unset).level == BlasAdvice::none);
  CHECK(fsh::blas_advice("", true, intel_avx512, unset).level == BlasAdvice::none);
  CHECK(fsh::blas_advice("Prescott", true, CpuFeatures{}, unset).level == BlasAdvice::none);
}

TEST_CASE("kernels the processor cannot run: a warning even when set explicitly") {
  const BlasAdvice a = fsh::blas_advice("SkylakeX", true, intel_avx2, std::string("SkylakeX"));
  CHECK(a.level == BlasAdvice::warning);
  CHECK(contains(a.text, "illegal instruction"));
  CHECK(contains(a.text, "set it to Haswell or unset it"));
  const BlasAdvice b = fsh::blas_advice("Haswell", true, sse_only, std::string("Haswell"));
  CHECK(b.level == BlasAdvice::warning);
  CHECK(contains(b.text, "unset it"));
}

TEST_CASE("an OpenBLAS built for one core: OPENBLAS_CORETYPE cannot help, so not suggested") {
  const BlasAdvice a = fsh::blas_advice("HASWELL", false, intel_avx512, unset);
  CHECK(a.level == BlasAdvice::warning);
  CHECK(contains(a.text, "DYNAMIC_ARCH"));
  CHECK(!contains(a.text, "OPENBLAS_CORETYPE"));
  CHECK(a.better_core.empty());
}

TEST_CASE("kernel families by name, case-insensitively") {
  CHECK(fsh::blas_core_tier("Prescott") == BlasTier::sse);
  CHECK(fsh::blas_core_tier("PRESCOTT") == BlasTier::sse);
  CHECK(fsh::blas_core_tier("Opteron_SSE3") == BlasTier::sse);
  CHECK(fsh::blas_core_tier("Piledriver") == BlasTier::avx);
  CHECK(fsh::blas_core_tier("zen") == BlasTier::avx2);
  CHECK(fsh::blas_core_tier("SKYLAKEX") == BlasTier::avx512);
  CHECK(fsh::blas_core_tier("ThunderX2T99") == BlasTier::unknown);
  CHECK(fsh::cpu_blas_tier(intel_avx512) == BlasTier::avx512);
  CHECK(fsh::cpu_blas_tier(CpuFeatures{}) == BlasTier::unknown);
  // AVX-512 without FMA/AVX2 cannot occur, but must not claim the top family.
  CpuFeatures odd = sse_only;
  odd.avx512 = true;
  CHECK(fsh::cpu_blas_tier(odd) == BlasTier::sse);
}

TEST_CASE("this process: the running kernel is named and passes the gemm self-test") {
  const fsh::BlasRuntime rt = fsh::blas_runtime();
  CHECK(!rt.corename.empty());
  CHECK(contains(fsh::blas_summary(), "kernel " + rt.corename));
  // sgemm and dgemm of whatever kernels run here (the suite is run under several
  // OPENBLAS_CORETYPE values) within the rounding-error bound of any summation order.
  CHECK(fsh::blas_self_test() == "");
}
