// Which OpenBLAS kernels this process runs, what the processor could run, and what to tell the
// user about the difference.
//
// Debian's OpenBLAS is built with DYNAMIC_ARCH: when it loads, it picks a family of kernels
// ("core") for the processor, or the one named by OPENBLAS_CORETYPE. It can fail to recognise a
// newer processor and fall back to old kernels (Prescott, SSE3, on an AVX-512 Xeon: sgemm 5×
// and Conv-4 training about 3× slower). Forcing a kernel silently is not safe either: some
// OpenBLAS builds compute wrong results or crash with some kernels on some processors, which is
// why an explicit OPENBLAS_CORETYPE is respected and not second-guessed. The compute tools
// therefore say once what they found (tools/common/cli.cpp: check_blas) and leave the choice to
// the user; the opt-in FSH_BLAS_CORETYPE=auto (README, "BLAS kernels") makes it for them and
// verifies the result with blas_self_test().
#pragma once
#include <optional>
#include <string>

namespace fsh {

// What the processor (and the operating system, which must save the wide registers) supports,
// as far as the choice of BLAS kernels goes.
struct CpuFeatures {
  bool known = false;  // false off x86-64: no advice is given there
  bool amd = false;    // AMD or Hygon: OpenBLAS's AVX2 kernels for them are called Zen
  bool avx = false, avx2 = false, fma = false;
  bool avx512 = false;  // F, CD, BW, DQ and VL (what OpenBLAS's SkylakeX kernels need)
};

// This processor's features (cpuid, through the compiler's __builtin_cpu_supports).
CpuFeatures cpu_features();

// Families of OpenBLAS x86-64 kernels by the widest instructions they use; unknown for names
// this table does not know (other architectures, future cores): no advice is given for them.
enum class BlasTier { unknown = 0, sse = 1, avx = 2, avx2 = 3, avx512 = 4 };
BlasTier blas_core_tier(const std::string& corename);  // case-insensitive, e.g. "Prescott"
BlasTier cpu_blas_tier(const CpuFeatures& cpu);        // the best family the CPU can run
const char* blas_tier_isa(BlasTier t);                 // "SSE", "AVX", "AVX2", "AVX-512"
// The OPENBLAS_CORETYPE value for the best family the CPU can run: SkylakeX, Haswell (Zen on
// AMD), Sandybridge; "" when that is the SSE family (nothing better to ask for).
std::string blas_core_for(const CpuFeatures& cpu);

// The BLAS library of this process, as it reports itself.
struct BlasRuntime {
  std::string corename;       // openblas_get_corename(), e.g. "Haswell"
  std::string config;         // openblas_get_config(), e.g. "OpenBLAS 0.3.21 ... DYNAMIC_ARCH ..."
  bool dynamic_arch = false;  // the kernels are chosen at load time (OPENBLAS_CORETYPE works)
};
BlasRuntime blas_runtime();

struct BlasAdvice {
  enum Level { none, note, warning };
  Level level = none;       // note: for --verbose only; warning: always (unless --quiet)
  std::string text;         // one line, no tool prefix, no newline
  std::string better_core;  // the kernel to ask for, "" when there is none
};

// The decision, a pure function. corename: the kernel running; dynamic_arch: whether
// OPENBLAS_CORETYPE can change it; coretype_env: OPENBLAS_CORETYPE when set and not empty
// (an explicit choice: never nagged about, only noted, unless the CPU cannot run it).
//   kernel needs instructions the CPU lacks  -> warning (expect an illegal instruction)
//   kernel older than the CPU allows:
//     chosen by OPENBLAS_CORETYPE            -> note
//     OpenBLAS chose it (DYNAMIC_ARCH)       -> warning with `export OPENBLAS_CORETYPE=X`
//     OpenBLAS built for that core only      -> warning: use a DYNAMIC_ARCH OpenBLAS
//   otherwise (or CPU/kernel unknown)        -> none
BlasAdvice blas_advice(const std::string& corename, bool dynamic_arch, const CpuFeatures& cpu,
                       const std::optional<std::string>& coretype_env);

// The running kernels, who chose them and what the processor could run, for --version:
// "kernel Haswell (set by OPENBLAS_CORETYPE=Haswell); CPU: AVX-512 (best kernel SkylakeX)".
std::string blas_kernel_summary();
// One line for benchmark outputs: openblas_get_config() + "; " + blas_kernel_summary().
std::string blas_summary();

// Checks sgemm and dgemm of the running kernel on shapes that exercise its edge and blocking
// code (all four transpose combinations, alpha and beta) against a naive sum in higher
// precision, within the rounding-error bound of any summation order,
// |ĉ − c| ≤ γ_{K+2}·(|α|·Σ|a||b| + |β·c|), γ_n = n·u/(1 − n·u) (Higham, Accuracy and Stability
// of Numerical Algorithms, §3.1 and §3.5). A kernel that computes wrongly misses by O(Σ|a||b|).
// Returns "" when every result is within its bound, else what failed. Takes a few ms.
std::string blas_self_test();
// The same in a child process (fork), so that kernels which crash (illegal instruction,
// segmentation fault) are reported as failing instead of ending the caller. Falls back to
// blas_self_test() where fork is unavailable.
std::string blas_self_test_isolated();

}  // namespace fsh
