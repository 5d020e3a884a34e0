// build_target(): the instruction set this build's machine code requires (see version.hpp).
// The compiler's predefined macros say what it was allowed to emit; the levels are the x86-64
// psABI's micro-architecture levels (v2: SSE4.2 + POPCNT, v3: AVX2 + FMA + BMI2, v4: AVX-512).
#include "util/version.hpp"

namespace fsh {

namespace {

std::string isa_level() {
#if defined(__x86_64__)
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
    defined(__AVX512DQ__) && defined(__AVX512CD__)
  return "x86-64-v4 (AVX-512)";
#elif defined(__AVX2__) && defined(__FMA__) && defined(__BMI2__)
  return "x86-64-v3 (AVX2, FMA)";
#elif defined(__AVX__)
  return "x86-64 with AVX";
#elif defined(__SSE4_2__) && defined(__POPCNT__)
  return "x86-64-v2 (SSE4.2)";
#else
  return "";  // the baseline
#endif
#elif defined(__aarch64__)
  return "";
#else
  return "";
#endif
}

std::string architecture() {
#if defined(__x86_64__)
  return "x86-64";
#elif defined(__aarch64__)
  return "aarch64";
#elif defined(__powerpc64__)
  return "ppc64";
#else
  return "this architecture";
#endif
}

}  // namespace

std::string build_target() {
  const std::string level = isa_level();
#if FSH_NATIVE
  return "-march=native" + (level.empty() ? std::string() : ", needs " + level) +
         ": runs only on CPUs like the build machine's";
#else
  if (level.empty()) {
#if defined(__x86_64__)
    const std::string baseline = " baseline (SSE2)";
#else
    const std::string baseline = " baseline";
#endif
    return architecture() + baseline + ": runs on any " + architecture() + " CPU";
  }
  return level + " (an -march in the compiler flags): runs only on CPUs with it";
#endif
}

}  // namespace fsh
