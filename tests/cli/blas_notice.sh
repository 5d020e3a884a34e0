#!/usr/bin/env bash
# The BLAS kernel notice of the compute tools (tools/common/cli.hpp, check_blas) on a machine
# whose OpenBLAS fell back to old kernels, simulated with an LD_PRELOAD shim (blas_shim.c):
#   - one warning with the remedy (export OPENBLAS_CORETYPE=...), for every compute tool;
#   - none with --quiet; only a --verbose note when OPENBLAS_CORETYPE is set explicitly;
#   - FSH_BLAS_CORETYPE=auto restarts the tool with the better kernels and checks them
#     (the restarted run says so with -v), and no warning remains;
#   - kernels that fail the check: back to OpenBLAS's own choice, with a warning;
#   - FSH_BLAS_CORETYPE=other: a usage error (exit 2).
# Skips (77) without a C compiler, or on a processor with nothing better than SSE.
# The runs stop at a missing input file, after the check: exit 1 with the usual one-line error.
set -u
src=${FSH_SOURCE_DIR:?FSH_SOURCE_DIR must be set}
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d"
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }

cc=$(command -v cc || command -v gcc || command -v clang) || { echo "no C compiler: skip"; exit 77; }
"$cc" -shared -fPIC -O1 -o shim.so "$src/tests/cli/blas_shim.c" -ldl || { echo "shim: skip"; exit 77; }
best=$(env -u OPENBLAS_CORETYPE fsh-eval --version | sed -n 's/.*best kernel \([A-Za-z]*\).*/\1/p')
[ -n "$best" ] || { echo "no kernels better than Prescott on this processor: skip"; exit 77; }
echo "this processor's best kernels: $best"

# run ENV... -- TOOL ARGS: stderr of TOOL under the shim, OPENBLAS_CORETYPE unset unless given.
run() {
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  env -u OPENBLAS_CORETYPE -u FSH_BLAS_CORETYPE -u FSH_BLAS_CHOSEN LD_PRELOAD="$d/shim.so" \
    "${envs[@]}" "$@" 2>&1 >/dev/null
}
count() { grep -c -- "$1" <<<"$2"; }

for tool in "fsh-eval -a missing.h5 -e missing.h5" "fsh-adapt -m missing.h5 -e missing.h5 -o o.h5" \
            "fsh-train --data missing.h5 -N 2 -K 1 -Q 1 -n 1 -o o.h5"; do
  name=${tool%% *}
  # shellcheck disable=SC2086
  e=$(run -- $tool)
  [ "$(count "warning: OpenBLAS runs its Prescott kernels" "$e")" = 1 ] || die "$name: no single warning: $e"
  grep -q "Remedy: export OPENBLAS_CORETYPE=$best before running" <<<"$e" || die "$name: remedy missing: $e"
  grep -q "missing.h5" <<<"$e" || die "$name: did not go on to the input: $e"
  # shellcheck disable=SC2086
  e=$(run -- $tool -q)
  grep -q "warning" <<<"$e" && die "$name -q still warns: $e"
done

e=$(run OPENBLAS_CORETYPE=Prescott -- fsh-eval -a missing.h5 -e missing.h5)
grep -q "warning" <<<"$e" && die "explicit OPENBLAS_CORETYPE nagged: $e"
e=$(run OPENBLAS_CORETYPE=Prescott -- fsh-eval -v -a missing.h5 -e missing.h5)
grep -q "chosen by OPENBLAS_CORETYPE=Prescott; this processor could run $best" <<<"$e" ||
  die "explicit OPENBLAS_CORETYPE: no verbose note: $e"

# Opt-in: restart with the better kernels, checked.
e=$(run FSH_BLAS_CORETYPE=auto -- fsh-eval -v -a missing.h5 -e missing.h5)
grep -q "BLAS kernels $best chosen by FSH_BLAS_CORETYPE=auto; sgemm and dgemm checked" <<<"$e" ||
  die "auto: no restart with $best: $e"
grep -q "warning" <<<"$e" && die "auto: still a warning: $e"
[ "$(count "missing.h5" "$e")" = 1 ] || die "auto: the tool ran more than once to the end: $e"
e=$(run FSH_BLAS_CORETYPE=auto -- fsh-eval -q -a missing.h5 -e missing.h5)
[ "$e" = "fsh-eval: error: missing.h5: cannot open (No such file or directory)" ] ||
  die "auto -q: expected only the error line: $e"
# The explicit choice wins over auto.
e=$(run FSH_BLAS_CORETYPE=auto OPENBLAS_CORETYPE=Prescott -- fsh-eval -v -a missing.h5 -e missing.h5)
grep -q "leaves the kernels alone: OPENBLAS_CORETYPE=Prescott is set" <<<"$e" || die "auto vs explicit: $e"
# Kernels that compute wrongly are not used.
e=$(run FSH_BLAS_CORETYPE=auto FSH_TEST_BAD_SGEMM=1 -- fsh-eval -a missing.h5 -e missing.h5)
grep -q "warning: FSH_BLAS_CORETYPE=auto: the BLAS kernels $best failed fsh's check (sgemm" <<<"$e" ||
  die "bad kernels: no fallback warning: $e"
grep -q "running OpenBLAS's own choice, Prescott, instead" <<<"$e" || die "bad kernels: fallback: $e"
[ "$(count "missing.h5" "$e")" = 1 ] || die "bad kernels: the tool ran more than once: $e"

e=$(run FSH_BLAS_CORETYPE=yes -- fsh-eval -a missing.h5 -e missing.h5)
rc=$?
[ $rc = 2 ] || die "FSH_BLAS_CORETYPE=yes: exit $rc, expected 2"
grep -q "FSH_BLAS_CORETYPE must be 'auto' or unset, got 'yes'" <<<"$e" || die "FSH_BLAS_CORETYPE=yes: $e"

[ $fail = 0 ] && echo "blas notice: all checks passed"
exit $fail
