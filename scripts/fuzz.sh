#!/usr/bin/env bash
# Runs the libFuzzer targets (tests/fuzz/fuzz_*.cpp: the PNG/JPEG decoders, the zip importer and
# the validation of every HDF5 reader), built with clang, AddressSanitizer and UBSan, each for a
# bounded time from its seed corpus (tests/fuzz/corpus/<target>/), several side by side. Exits
# non-zero when fsh's code crashes, misbehaves (tests/fuzz/README.md) or a target fails to run
# (the input that did it is kept in <build>/artifacts/). A crash inside the HDF5 library itself
# (Debian 12's 1.10.8 has several on damaged files) does not fail the run: it is reported, its
# input kept as <build>/artifacts/<target>-hdf5-*, and fuzzing resumes for the time left.
# Skips, saying so, with exit status 0 when clang and its fuzzer runtime are not installed and
# cannot be.
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
  rm -f "$build/logs/$t".*
done

# Where a crash happened, from one libFuzzer run's report: "hdf5" when the first stack frame
# that is neither the sanitizers', libFuzzer's nor libc's lies in the HDF5 library (a crash
# inside HDF5 itself on a damaged file, tests/fuzz/README.md), else "fsh" (also when the report
# has no stack: out of memory, say).
crash_site() {
  awk '/ERROR: |SUMMARY: / {seen = 1}
       /Live Heap Allocations/ { print "fsh"; exit }  # out of memory: a profile, no crash stack
       seen && /^ *#[0-9]+ 0x/ {
         if ($0 ~ /libhdf5/) { print "hdf5"; exit }
         if ($0 ~ / \/[^ ]+:[0-9]+/) { print "fsh"; exit }  # fsh (or a header it inlines)
       }
       END { if (!seen) print "fsh" }' "$1" | head -1 | grep . || echo fsh
}
# Inputs run: libFuzzer's final statistics, or with -fork (no statistics) its last progress
# line, "#<runs>: cov: ...".
runs_in() {
  local n
  n=$({ grep -o 'stat::number_of_executed_units: *[0-9]*' "$1" || true; } |
    awk '{s += $2} END {print s + 0}')
  [ "$n" -eq 0 ] && n=$({ grep -oE '^#[0-9]+' "$1" || true; } | tail -1 | tr -d '#')
  echo "${n:-0}"
}

# One target for FUZZ_SECONDS: libFuzzer's output in logs/<target>.log, its exit status in
# logs/<target>.rc (a target that dies without writing one counts as failed), the inputs
# that crashed HDF5 itself in logs/<target>.hdf5. A crash inside HDF5 does not fail the run:
# the input is kept (artifacts/<target>-hdf5-*) and fuzzing resumes for the time left.
run_target() {
  local t=$1 log=$build/logs/$1.log rc=0 k=0 start=$SECONDS left unit
  # A target's own libFuzzer flags, one a line, after (and so over) the defaults below.
  local own=()
  [ -f "tests/fuzz/$t.options" ] && mapfile -t own < <(grep -v '^ *\(#\|$\)' "tests/fuzz/$t.options")
  : >"$log"
  : >"$build/logs/$t.hdf5"
  while :; do
    left=$((seconds - (SECONDS - start)))
    [ $k -gt 0 ] && [ $left -lt 5 ] && break
    k=$((k + 1))
    rc=0
    # Leak checking is off: HDF5 keeps free lists and caches for the life of the process,
    # which libFuzzer would report as leaks of every input. No allocation may exceed 2 GB
    # (the RSS limit too): malloc then returns NULL, as it does for an impossible size without
    # ASan (HDF5 asks for one, up to 72 PB, when a damaged length says so, and then fails
    # cleanly), while a C++ allocation that large is reported (ASan does whatever this says),
    # so fsh's own stay bounded. Memory errors, UB and crashes all count, except out-of-bounds
    # reads inside two HDF5 functions (tests/fuzz/hdf5.supp says which and why).
    ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:max_allocation_size_mb=2048:suppressions=$PWD/tests/fuzz/hdf5.supp \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      "$build/bin/$t" -max_total_time="$left" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 ${fork[@]+"${fork[@]}"} ${own[@]+"${own[@]}"} \
        -artifact_prefix="$build/artifacts/$t-" \
        "$build/corpus/$t" "tests/fuzz/corpus/$t" >"$log.$k" 2>&1 || rc=$?
    cat "$log.$k" >>"$log"
    runs_in "$log.$k" >>"$build/logs/$t.runs"
    [ $rc -eq 0 ] && break
    # Resumed only when the crash came while fuzzing (after "INITED"): an input of the corpus
    # itself that crashes would crash every restart.
    grep -q 'INITED' "$log.$k" && [ "$(crash_site "$log.$k")" = hdf5 ] || break
    unit=$(sed -n 's/.*Test unit written to //p' "$log.$k" | tail -1)
    if [ -n "$unit" ] && [ -f "$unit" ]; then
      kept=$(dirname "$unit")/$t-hdf5-$(basename "$unit" | sed "s/^$t-//")
      mv "$unit" "$kept"
      echo "$kept" >>"$build/logs/$t.hdf5"
    else
      echo "(input not written; see $log)" >>"$build/logs/$t.hdf5"
    fi
    rc=0
  done
  rm -f "$log".[0-9]*
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
hdf5_crashes=0
for t in "${targets[@]}"; do
  log=$build/logs/$t.log
  rc=$(cat "$build/logs/$t.rc" 2>/dev/null || echo "none")
  runs=$(awk '{s += $1} END {print s + 0}' "$build/logs/$t.runs" 2>/dev/null || echo 0)
  total_runs=$((total_runs + runs))
  upstream=$(grep -c . "$build/logs/$t.hdf5" 2>/dev/null || true)
  hdf5_crashes=$((hdf5_crashes + ${upstream:-0}))
  if [ "$rc" != 0 ]; then
    failed+=("$t")
    echo "fuzz: $t FAILED (exit status $rc) after $runs runs; log $log:" >&2
    grep -E 'ERROR|SUMMARY|refusal|Test unit written|==[0-9]+==' "$log" 2>/dev/null | tail -20 >&2 || true
  else
    echo "fuzz: $t: $runs runs in ${seconds} s, no crash in fsh" >&2
  fi
  if [ "${upstream:-0}" -gt 0 ]; then
    echo "fuzz: $t: HDF5 itself crashed $upstream time(s), on these inputs:" >&2
    sort -u "$build/logs/$t.hdf5" | sed 's/^/    /' >&2
  fi
done
echo "fuzz: ${#targets[@]} targets, $total_runs runs in all, ${#failed[@]} failed${failed:+: ${failed[*]}}" \
     "($hdf5_crashes crashes inside HDF5 itself)" >&2
[ ${#failed[@]} -eq 0 ]
