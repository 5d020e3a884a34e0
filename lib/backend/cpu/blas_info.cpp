// OpenBLAS kernel information and advice (see blas_info.hpp).
#include "backend/cpu/blas_info.hpp"

#include <cblas.h>
#if defined(__unix__)
#include <sys/wait.h>
#include <unistd.h>
#endif

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <sstream>
#include <type_traits>
#include <vector>

namespace fsh {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

CpuFeatures cpu_features() {
  CpuFeatures f;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  // libgcc's (and compiler-rt's) cpuid reader also checks XGETBV: a feature counts only when
  // the operating system saves its registers, which is what OpenBLAS checks too.
  __builtin_cpu_init();
  f.known = true;
  f.amd = __builtin_cpu_is("amd");
  f.avx = __builtin_cpu_supports("avx");
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  f.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512vl");
  // Hygon (AMD's Zen licensee) reads as neither vendor to older compilers; OpenBLAS gives it
  // the Zen kernels, which equal Haswell's for gemm, so "Haswell" is right for it as well.
#endif
  return f;
}

BlasTier blas_core_tier(const std::string& corename) {
  // OpenBLAS's x86-64 cores (driver/others/dynamic.c), by the instructions their kernels use.
  static const char* const sse[] = {"katmai",       "coppermine", "northwood", "prescott",
                                    "banias",       "atom",       "core2",     "penryn",
                                    "dunnington",   "nehalem",    "athlon",    "opteron",
                                    "opteron_sse3", "barcelona",  "nano",      "bobcat"};
  static const char* const avx[] = {"sandybridge", "bulldozer", "piledriver", "steamroller",
                                    "excavator"};
  static const char* const avx2[] = {"haswell", "zen"};
  static const char* const avx512[] = {"skylakex", "cooperlake", "sapphirerapids"};
  const std::string n = lower(corename);
  auto in = [&n](const auto& list) {
    return std::any_of(std::begin(list), std::end(list), [&n](const char* c) { return n == c; });
  };
  if (in(avx512)) return BlasTier::avx512;
  if (in(avx2)) return BlasTier::avx2;
  if (in(avx)) return BlasTier::avx;
  if (in(sse)) return BlasTier::sse;
  return BlasTier::unknown;
}

BlasTier cpu_blas_tier(const CpuFeatures& cpu) {
  if (!cpu.known) return BlasTier::unknown;
  if (cpu.avx512 && cpu.avx2 && cpu.fma) return BlasTier::avx512;
  if (cpu.avx2 && cpu.fma) return BlasTier::avx2;
  if (cpu.avx) return BlasTier::avx;
  return BlasTier::sse;
}

const char* blas_tier_isa(BlasTier t) {
  switch (t) {
    case BlasTier::sse:
      return "SSE";
    case BlasTier::avx:
      return "AVX";
    case BlasTier::avx2:
      return "AVX2";
    case BlasTier::avx512:
      return "AVX-512";
    default:
      return "unknown instructions";
  }
}

std::string blas_core_for(const CpuFeatures& cpu) {
  switch (cpu_blas_tier(cpu)) {
    case BlasTier::avx512:
      return "SkylakeX";
    case BlasTier::avx2:
      return cpu.amd ? "Zen" : "Haswell";
    case BlasTier::avx:
      return "Sandybridge";
    default:
      return "";
  }
}

BlasAdvice blas_advice(const std::string& corename, bool dynamic_arch, const CpuFeatures& cpu,
                       const std::optional<std::string>& coretype_env) {
  BlasAdvice a;
  const BlasTier have = blas_core_tier(corename), can = cpu_blas_tier(cpu);
  if (have == BlasTier::unknown || can == BlasTier::unknown || have == can) return a;
  const std::string best = blas_core_for(cpu);
  std::ostringstream s;
  if (have > can) {
    // Only an explicit OPENBLAS_CORETYPE (or a library built for another CPU) gets here.
    a.level = BlasAdvice::warning;
    a.better_core = best;
    s << "the BLAS kernels " << corename << " use " << blas_tier_isa(have)
      << " instructions, which this processor lacks: expect a crash (illegal instruction)";
    if (coretype_env)
      s << "; they were chosen by OPENBLAS_CORETYPE=" << *coretype_env << ": "
        << (best.empty() ? std::string("unset it") : "set it to " + best + " or unset it");
    else
      s << "; use an OpenBLAS built for this processor or with DYNAMIC_ARCH";
    a.text = s.str();
    return a;
  }
  a.better_core = best;
  if (coretype_env) {
    a.level = BlasAdvice::note;
    s << "BLAS kernels " << corename << " (" << blas_tier_isa(have)
      << "), chosen by OPENBLAS_CORETYPE=" << *coretype_env << "; this processor could run " << best
      << " (" << blas_tier_isa(can) << ")";
    a.text = s.str();
    return a;
  }
  a.level = BlasAdvice::warning;
  // Two families apart (SSE on an AVX2 or AVX-512 processor) measured 3-5x slower.
  const char* how = int(can) - int(have) >= 2 ? "several times slower" : "slower";
  if (!dynamic_arch) {
    s << "this OpenBLAS was built for " << corename << " only (" << blas_tier_isa(have)
      << ") but this processor supports " << blas_tier_isa(can) << ": BLAS runs " << how
      << " than it could; an OpenBLAS built with DYNAMIC_ARCH (as Debian's) or for this "
         "processor would be faster (README, \"BLAS kernels\")";
    a.better_core.clear();
  } else {
    s << "OpenBLAS runs its " << corename << " kernels (" << blas_tier_isa(have)
      << ") but this processor supports " << blas_tier_isa(can) << ": BLAS runs " << how
      << " than it could. Remedy: export OPENBLAS_CORETYPE=" << best
      << " before running (OpenBLAS reads it only when it loads; README, \"BLAS kernels\")";
  }
  a.text = s.str();
  return a;
}

BlasRuntime blas_runtime() {
  BlasRuntime r;
  const char* core = openblas_get_corename();
  const char* config = openblas_get_config();
  r.corename = core ? core : "";
  r.config = config ? config : "";
  // The config string lists the build options, e.g. "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH
  // NO_AFFINITY Haswell MAX_THREADS=64".
  std::istringstream words(r.config);
  for (std::string w; words >> w;) r.dynamic_arch |= w == "DYNAMIC_ARCH";
  return r;
}

std::string blas_summary() { return blas_runtime().config + "; " + blas_kernel_summary(); }

std::string blas_kernel_summary() {
  const BlasRuntime r = blas_runtime();
  const CpuFeatures cpu = cpu_features();
  std::string s = "kernel " + r.corename;
  const char* env = std::getenv("OPENBLAS_CORETYPE");
  const char* chosen = std::getenv("FSH_BLAS_CHOSEN");
  if (chosen && *chosen && env && lower(env) == lower(chosen))
    s += " (chosen by FSH_BLAS_CORETYPE=auto)";
  else if (env && *env)
    s += std::string(" (set by OPENBLAS_CORETYPE=") + env + ")";
  else if (r.dynamic_arch)
    s += " (chosen by OpenBLAS)";
  else
    s += " (built in)";
  if (cpu.known) {
    const std::string best = blas_core_for(cpu);
    s += std::string("; CPU: ") + blas_tier_isa(cpu_blas_tier(cpu)) +
         (best.empty() ? std::string() : " (best kernel " + best + ")");
  }
  return s;
}

namespace {

// One gemm case: C = α·op(A)·op(B) + β·C in row-major storage against a naive sum in R (wider
// than T), within the bound of blas_info.hpp.
template <class T, class R>
bool gemm_case(bool ta, bool tb, int M, int N, int K, T alpha, T beta, std::ostringstream& why) {
  // Deterministic values in [-1, 1] (a fixed linear congruential sequence).
  uint32_t state = 12345u + uint32_t(M * 7 + N * 13 + K * 31 + ta * 2 + tb);
  auto next = [&state] {
    state = state * 1664525u + 1013904223u;
    return T(double(state >> 8) / double(1u << 24) * 2.0 - 1.0);
  };
  std::vector<T> a(std::size_t(M) * K), b(std::size_t(K) * N), c(std::size_t(M) * N);
  for (auto& v : a) v = next();
  for (auto& v : b) v = next();
  for (auto& v : c) v = next();
  const std::vector<T> c0 = c;
  const int lda = ta ? M : K, ldb = tb ? K : N;
  const CBLAS_TRANSPOSE opa = ta ? CblasTrans : CblasNoTrans, opb = tb ? CblasTrans : CblasNoTrans;
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, opa, opb, M, N, K, alpha, a.data(), lda, b.data(), ldb, beta,
                c.data(), N);
  else
    cblas_dgemm(CblasRowMajor, opa, opb, M, N, K, alpha, a.data(), lda, b.data(), ldb, beta,
                c.data(), N);
  auto gamma = [](double n, double u) { return n * u / (1 - n * u); };
  const double n = K + 2;
  const double tol_factor = gamma(n, std::numeric_limits<T>::epsilon() / 2) +
                            gamma(n, double(std::numeric_limits<R>::epsilon()) / 2);
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      R sum = 0, mag = 0;
      for (int k = 0; k < K; ++k) {
        const R x = ta ? a[std::size_t(k) * lda + i] : a[std::size_t(i) * lda + k];
        const R y = tb ? b[std::size_t(j) * ldb + k] : b[std::size_t(k) * ldb + j];
        sum += x * y;
        mag += std::abs(x * y);
      }
      const R cij = c0[std::size_t(i) * N + j];
      const R ref = R(alpha) * sum + R(beta) * cij;
      const double bound = tol_factor * double(std::abs(R(alpha)) * mag + std::abs(R(beta) * cij));
      const double err = std::abs(double(c[std::size_t(i) * N + j]) - double(ref));
      if (!(err <= bound)) {  // also catches NaN
        why << (std::is_same_v<T, float> ? "sgemm" : "dgemm") << " " << (ta ? "T" : "N")
            << (tb ? "T" : "N") << " " << M << "x" << N << "x" << K << ": C[" << i << "," << j
            << "] = " << double(c[std::size_t(i) * N + j]) << ", expected " << double(ref)
            << " (error " << err << " > bound " << bound << ")";
        return false;
      }
    }
  return true;
}

}  // namespace

std::string blas_self_test() {
  struct Shape {
    int M, N, K;
  };
  // Tiny, odd (every edge path of the micro-kernels), conv-like (K = 9 and 576), and large
  // enough for OpenBLAS's K blocking and its threads.
  // (The last three are above OpenBLAS's threading threshold, M·N·K > 65536.)
  const Shape shapes[] = {{1, 1, 1},      {3, 5, 7},      {17, 33, 9},  {31, 19, 65},
                          {64, 100, 576}, {129, 67, 300}, {64, 3920, 9}};
  std::ostringstream why;
  for (const Shape& s : shapes)
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      const float af = t == 0 ? 1.0f : 1.5f, bf = t == 3 ? 0.0f : 0.5f;
      if (!gemm_case<float, double>(ta, tb, s.M, s.N, s.K, af, bf, why)) return why.str();
      if (!gemm_case<double, long double>(ta, tb, s.M, s.N, s.K, double(af), double(bf), why))
        return why.str();
    }
  return "";
}

std::string blas_self_test_isolated() {
#if defined(__unix__)
  int fds[2];
  if (pipe(fds) != 0) return blas_self_test();
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return blas_self_test();
  }
  if (pid == 0) {  // the child: report through the pipe, exit without running any destructors
    close(fds[0]);
    const std::string r = blas_self_test();
    const char* p = r.data();
    std::size_t left = r.size();
    while (left > 0) {
      const ssize_t n = write(fds[1], p, left);
      if (n <= 0) break;
      p += n;
      left -= std::size_t(n);
    }
    _exit(r.empty() ? 0 : 1);
  }
  close(fds[1]);
  std::string out;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    out.append(buf, std::size_t(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) return std::string("the check crashed: ") + strsignal(WTERMSIG(status));
  if (!WIFEXITED(status)) return "the check ended abnormally";
  if (WEXITSTATUS(status) != 0 && out.empty()) return "the check failed";
  return out;
#else
  return blas_self_test();
#endif
}

}  // namespace fsh
