#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.cpp: the PNG/JPEG decoders, the zip importer and
# the validation of every HDF5 reader) with clang, AddressSanitizer and UBSan in build-fuzz/, then
# runs each for a bounded time from its seed corpus (tests/fuzz/corpus/<target>/). Exits non-zero
# when a target crashes (the input that did it is kept in build-fuzz/artifacts/); skips, saying
# so, with exit status 0 when clang and its fuzzer runtime are not installed and cannot be.
#
# Usage: scripts/fuzz.sh [TARGET...]          (default: every target)
#   FUZZ_SECONDS=60    time per target, in seconds
#   FUZZ_JOBS=1        fuzzing processes per target (libFuzzer -fork), for a longer campaign
#   FUZZ_PARALLEL=nproc targets run at the same time (1 when FUZZ_JOBS > 1)
# Inputs the fuzzers discover are kept in build-fuzz/corpus/<target>/ and reused by later runs;
# a crash input worth keeping as a regression seed goes into tests/fuzz/corpus/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-1}
build=build-fuzz

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
    echo "fuzz: SKIPPED: clang with libFuzzer (Debian packages clang, libclang-rt-dev) is not" \
         "installed and could not be installed here" >&2
    exit 0
  fi
fi

echo "== fuzz build (clang, libFuzzer, address, undefined): $build ==" >&2
CC=clang CXX=clang++ cmake -S . -B "$build" -DFSH_FUZZ=ON -DFSH_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFSH_NATIVE=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target fuzz_all

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for src in tests/fuzz/fuzz_*.cpp; do targets+=("$(basename "$src" .cpp)"); done
fi
rm -rf "$build/artifacts"
mkdir -p "$build/artifacts" "$build/logs"
fork=()
[ "$jobs" -gt 1 ] && fork=(-fork="$jobs")
# Targets run side by side, as many at a time as there are cores (FUZZ_PARALLEL), each for
# FUZZ_SECONDS; each writes its exit status next to its log.
parallel=${FUZZ_PARALLEL:-$(nproc)}
[ "$jobs" -gt 1 ] && parallel=1
run_target() {
  local t=$1 log=$build/logs/$1.log rc=0
  # Leak checking is off: HDF5 keeps free lists and caches for the life of the process, which
  # libFuzzer would report as leaks of every input. Memory errors, UB and crashes all count.
  ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=0 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$build/bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 ${fork[@]+"${fork[@]}"} \
      -artifact_prefix="$build/artifacts/$t-" \
      "$build/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  echo "$rc" >"$build/logs/$t.rc"
}
for t in "${targets[@]}"; do
  [ -x "$build/bin/$t" ] || { echo "fuzz: no target $t" >&2; exit 2; }
  mkdir -p "$build/corpus/$t"
  rm -f "$build/logs/$t.rc"
done
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$parallel" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  echo "== $t: ${seconds}s ==" >&2
  run_target "$t" &
  running=$((running + 1))
done
wait
failed=()
total_runs=0
for t in "${targets[@]}"; do
  log=$build/logs/$t.log
  rc=$(cat "$build/logs/$t.rc" 2>/dev/null || echo 1)
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{s += $2} END {print s + 0}')
  total_runs=$((total_runs + runs))
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
    echo "fuzz: $t FAILED (exit $rc) after $runs runs; log $log:" >&2
    grep -E 'ERROR|SUMMARY|refusal|Test unit written|==[0-9]+==' "$log" | head -20 >&2
  else
    echo "fuzz: $t: $runs runs in ${seconds}s, no crash" >&2
  fi
done
echo "fuzz: ${#targets[@]} targets, $total_runs runs in all, ${#failed[@]} failed${failed:+: ${failed[*]}}" >&2
[ ${#failed[@]} -eq 0 ]
