#!/usr/bin/env bash
# Sets fsh up (scripts/setup.sh) and runs the whole test suite: the release build's tests, the
# C++ unit tests again under OpenBLAS's oldest x86-64 kernels (Prescott: no test may depend on
# which BLAS kernels run), then under AddressSanitizer + UndefinedBehaviorSanitizer; with --fuzz,
# then a bounded fuzzing run (scripts/fuzz.sh: FUZZ_SECONDS per target, default 60; skipped,
# saying so, where clang and libFuzzer cannot be installed). CI (.ci/run) does not fuzz yet: its
# second sanitizer build (clang) would take the run past CI's 30 minutes.
# Tests that need the real Omniglot archives read FSH_DATA_DIR and skip, saying so, without it.
# Usage: scripts/test.sh [--no-sanitize] [--fuzz | --no-fuzz]
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=1
fuzz=${FSH_TEST_FUZZ:-0}
for arg in "$@"; do
  case $arg in
    --no-sanitize) sanitize=0 ;;
    --no-fuzz) fuzz=0 ;;
    --fuzz) fuzz=1 ;;
    *) echo "usage: scripts/test.sh [--no-sanitize] [--fuzz | --no-fuzz]" >&2; exit 2 ;;
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

if [ $sanitize -eq 1 ]; then
  echo "== sanitizer build (address, undefined): unit tests ==" >&2
  # FSH_NATIVE=OFF is the default; said explicitly because a build folder configured before
  # the default changed keeps FSH_NATIVE=ON in its cache.
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFSH_SANITIZE=ON -DFSH_NATIVE=OFF >/dev/null
  cmake --build build-asan -j "$(nproc)"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j 2 -L unit --timeout 1500)
fi

if [ $fuzz -eq 1 ]; then
  echo "== fuzzing (libFuzzer): ${FUZZ_SECONDS:-60} s per target ==" >&2
  scripts/fuzz.sh
fi
