#!/usr/bin/env bash
# Sets fsh up (scripts/setup.sh) and runs the whole test suite: the release build's tests, the
# C++ unit tests again under OpenBLAS's oldest x86-64 kernels (Prescott: no test may depend on
# which BLAS kernels run), then the sanitizer stage. That is one clang build, build-san
# (FSH_FUZZ=ON: AddressSanitizer + UndefinedBehaviorSanitizer + libFuzzer's coverage), in which
# the unit tests run again (leak checking on), followed by a bounded fuzzing run of its libFuzzer
# targets (scripts/fuzz.sh: every target for FUZZ_SECONDS, default 60, FUZZ_PARALLEL at a time,
# default one per core; a crash inside the HDF5 library itself is reported but does not fail
# it, tests/fuzz/README.md). Where clang with libFuzzer is not installed and cannot be, the unit
# tests run under the sanitizers of a GCC build (build-asan) instead and fuzzing is skipped,
# saying so. CI (.ci/run) runs all of it.
# Tests that need the real Omniglot archives read FSH_DATA_DIR and skip, saying so, without it.
# Usage: scripts/test.sh [--no-sanitize] [--no-fuzz]
#   --no-sanitize  no sanitizer unit tests (the fuzzing, unless --no-fuzz, still runs)
#   --no-fuzz      no fuzzing
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=1
fuzz=1
for arg in "$@"; do
  case $arg in
    --no-sanitize) sanitize=0 ;;
    --no-fuzz) fuzz=0 ;;
    --fuzz) fuzz=1 ;;  # the default (said by older invocations)
    *) echo "usage: scripts/test.sh [--no-sanitize] [--no-fuzz]" >&2; exit 2 ;;
  esac
done

scripts/setup.sh build
(cd build && ctest --output-on-failure -j 2 --timeout 1500)

# OPENBLAS_CORETYPE only matters to an OpenBLAS built with DYNAMIC_ARCH (Debian's); the
# environment's own choice of kernels ran above.
if build/bin/fsh-train --version | grep -q DYNAMIC_ARCH; then
  echo "== unit tests with OPENBLAS_CORETYPE=Prescott (kernel independence) ==" >&2
  (cd build && OPENBLAS_CORETYPE=Prescott ctest --output-on-failure -j 2 -L unit --timeout 1500)
fi

[ $sanitize -eq 1 ] || [ $fuzz -eq 1 ] || exit 0

sanitizer_tests() {
  (cd "$1" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j 2 -L unit --timeout 1500)
}

# FSH_NATIVE=OFF is the default; said explicitly because a build folder configured before the
# default changed keeps FSH_NATIVE=ON in its cache.
if scripts/fuzz.sh --check; then
  # One clang build serves both: the unit tests and tools (target all) and the fuzz targets
  # (fuzz_all), every object instrumented for ASan, UBSan and libFuzzer's coverage.
  echo "== sanitizer build (clang; address, undefined, fuzzer-no-link): build-san ==" >&2
  CC=clang CXX=clang++ cmake -S . -B build-san -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFSH_FUZZ=ON \
    -DFSH_BUILD_TESTS=ON -DFSH_NATIVE=OFF >/dev/null
  if [ $sanitize -eq 1 ]; then
    cmake --build build-san -j "$(nproc)" --target all fuzz_all
    echo "== sanitizer build: unit tests ==" >&2
    sanitizer_tests build-san
  fi
  if [ $fuzz -eq 1 ]; then
    echo "== fuzzing (libFuzzer): ${FUZZ_SECONDS:-60} s per target ==" >&2
    FUZZ_BUILD=build-san scripts/fuzz.sh
  fi
else
  echo "test: no clang with libFuzzer here: the sanitizer run uses GCC (build-asan)" >&2
  [ $fuzz -eq 0 ] || echo "test: fuzzing SKIPPED (it needs clang with libFuzzer)" >&2
  if [ $sanitize -eq 1 ]; then
    echo "== sanitizer build (GCC; address, undefined): build-asan ==" >&2
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFSH_SANITIZE=ON -DFSH_NATIVE=OFF >/dev/null
    cmake --build build-asan -j "$(nproc)"
    echo "== sanitizer build: unit tests ==" >&2
    sanitizer_tests build-asan
  fi
fi
