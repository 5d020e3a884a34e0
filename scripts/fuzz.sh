#!/usr/bin/env bash
# Runs the libFuzzer targets (tests/fuzz/fuzz_*.cpp: the PNG/JPEG decoders, the zip importer and
# the validation of every HDF5 reader), built with clang, AddressSanitizer and UBSan, each for a
# bounded time from its seed corpus (tests/fuzz/corpus/<target>/), several side by side. Exits
# non-zero when a target crashes or fails to run (the input that did it is kept in
# <build>/artifacts/); skips, saying so, with exit status 0 when clang and its fuzzer runtime are
# not installed and cannot be.
#
# Usage: scripts/fuzz.sh [TARGET...]          (default: every target)
#        scripts/fuzz.sh --check              only install clang + libFuzzer if missing; exit
#                                             status 0 when they are there, 1 when not
#   FUZZ_BUILD=build-fuzz  the build folder. One already configured with FSH_FUZZ=ON is reused
#                       as it is (scripts/test.sh passes build-san, its clang sanitizer build,
#                       which has the unit tests too); only the target fuzz_all is built in it.
#                       Otherwise it is configured here: clang, FSH_FUZZ=ON, no tests.
#   FUZZ_SECONDS=60     time per target, in seconds
#   FUZZ_PARALLEL=nproc targets run at the same time (1 when FUZZ_JOBS > 1)
#   FUZZ_JOBS=1         fuzzing processes per target (libFuzzer -fork), for a longer campaign
# Inputs the fuzzers discover are kept in <build>/corpus/<target>/ and reused by later runs;
# a crash input worth keeping as a regression seed goes into tests/fuzz/corpus/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}
build=${FUZZ_BUILD:-build-fuzz}
check_only=0
targets=()
for arg in "$@"; do
  case $arg in
    --check) check_only=1 ;;
    -*) echo "usage: scripts/fuzz.sh [--check] [TARGET...]" >&2; exit 2 ;;
    *) targets+=("$arg") ;;
  esac
done

# clang, and the libFuzzer runtime (Debian: clang + libclang-rt-<version>-dev).
have_fuzzer() {
  command -v clang++ >/dev/null && command -v clang >/dev/null &&
    echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' |
    clang++ -x c++ -fsanitize=fuzzer - -o /dev/null 2>/dev/null
}
if ! have_fuzzer; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  echo "fuzz: installing clang and its fuzzer runtime" >&2
  if ! { $sudo apt-get update -qq &&
         DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
           clang libclang-rt-dev >/dev/null; } 2>/dev/null || ! have_fuzzer; then
    echo "fuzz: clang with libFuzzer (Debian packages clang, libclang-rt-dev) is not" \
         "installed and could not be installed here" >&2
    [ $check_only -eq 1 ] && exit 1
    echo "fuzz: SKIPPED" >&2
    exit 0
  fi
fi
[ $check_only -eq 1 ] && exit 0

if [ -f "$build/CMakeCache.txt" ]; then
  if ! grep -q '^FSH_FUZZ:BOOL=ON$' "$build/CMakeCache.txt"; then
    echo "fuzz: $build is configured without FSH_FUZZ; set FUZZ_BUILD to another folder" >&2
    exit 2
  fi
  echo "== fuzz targets in $build (configured already) ==" >&2
else
  echo "== fuzz build (clang, libFuzzer, address, undefined): $build ==" >&2
  CC=clang CXX=clang++ cmake -S . -B "$build" -DFSH_FUZZ=ON -DFSH_BUILD_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFSH_NATIVE=OFF >/dev/null
fi
cmake --build "$build" -j "$(nproc)" --target fuzz_all

if [ ${#targets[@]} -eq 0 ]; then
  for src in tests/fuzz/fuzz_*.cpp; do targets+=("$(basename "$src" .cpp)"); done
fi
for t in "${targets[@]}"; do
  [ -f "tests/fuzz/$t.cpp" ] && [ -x "$build/bin/$t" ] || { echo "fuzz: no target $t" >&2; exit 2; }
done
parallel=${FUZZ_PARALLEL:-$(nproc)}
case $parallel in
  '' | *[!0-9]* | 0) echo "fuzz: FUZZ_PARALLEL must be a positive integer, not '$parallel'" >&2; exit 2 ;;
esac
fork=()
if [ "$jobs" -gt 1 ]; then
  fork=(-fork="$jobs")
  parallel=1
fi
rm -rf "$build/artifacts"
mkdir -p "$build/artifacts" "$build/logs"
for t in "${targets[@]}"; do
  mkdir -p "$build/corpus/$t"
  rm -f "$build/logs/$t.log" "$build/logs/$t.rc"
done

# One target: FUZZ_SECONDS of libFuzzer, its output in logs/<target>.log and its exit status
# in logs/<target>.rc (a target that dies without writing one counts as failed).
run_target() {
  local t=$1 log=$build/logs/$1.log rc=0
  # Leak checking is off: HDF5 keeps free lists and caches for the life of the process, which
  # libFuzzer would report as leaks of every input. malloc returns NULL for an impossible size,
  # as it does without ASan (HDF5 asks for one when a damaged length says so, and then fails
  # cleanly); C++ allocations of such sizes still count (ASan reports them whatever this says).
  # Memory errors, UB and crashes all count, except out-of-bounds reads inside two HDF5
  # functions (tests/fuzz/hdf5.supp says which and why).
  ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:suppressions=$PWD/tests/fuzz/hdf5.supp \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$build/bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 ${fork[@]+"${fork[@]}"} \
      -artifact_prefix="$build/artifacts/$t-" \
      "$build/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  echo "$rc" >"$build/logs/$t.rc"
}
# FUZZ_PARALLEL targets at a time: a new one starts whenever one ends.
echo "== fuzzing ${#targets[@]} targets, ${seconds} s each, $parallel at a time ==" >&2
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$parallel" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  echo "fuzz: $t started" >&2
  run_target "$t" &
  running=$((running + 1))
done
wait

failed=()
total_runs=0
for t in "${targets[@]}"; do
  log=$build/logs/$t.log
  rc=$(cat "$build/logs/$t.rc" 2>/dev/null || echo "none")
  # Inputs run: libFuzzer's final statistics, or with -fork (no statistics) its last progress
  # line, "#<runs>: cov: ...".
  runs=$({ grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" || true; } 2>/dev/null |
    awk '{s += $2} END {print s + 0}')
  if [ "$runs" -eq 0 ]; then
    runs=$({ grep -oE '^#[0-9]+' "$log" || true; } 2>/dev/null | tail -1 | tr -d '#')
    runs=${runs:-0}
  fi
  total_runs=$((total_runs + runs))
  if [ "$rc" != 0 ]; then
    failed+=("$t")
    echo "fuzz: $t FAILED (exit status $rc) after $runs runs; log $log:" >&2
    grep -E 'ERROR|SUMMARY|refusal|Test unit written|==[0-9]+==' "$log" 2>/dev/null | head -20 >&2 || true
  else
    echo "fuzz: $t: $runs runs in ${seconds} s, no crash" >&2
  fi
done
echo "fuzz: ${#targets[@]} targets, $total_runs runs in all, ${#failed[@]} failed${failed:+: ${failed[*]}}" >&2
[ ${#failed[@]} -eq 0 ]
