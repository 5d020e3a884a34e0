#!/usr/bin/env bash
# The whole pipeline on built-in data: synth -> split -> sample -> train -> adapt -> eval.
# Checks: eval from the adapted file equals eval with the model adapted in memory; the model
# learns (accuracy well above chance after a short training); predictions TSV is consistent
# with the summary; bad inputs to train/adapt/eval fail with one line and leave no output.
set -u
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d"
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }

fsh-episodes synth --classes 60 --seed 2 -o glyphs.h5 -q || die synth
fsh-episodes split glyphs.h5 --by class --fraction 0.6,0.2,0.2 -o split.h5 -q || die split
fsh-episodes sample split.h5 --part test -N 5 -K 1 -Q 5 --count 40 --seed 9 -o test.h5 -q || die sample
fsh-train --data split.h5 -N 10 -K 1 -Q 5 -n 60 --hidden 32 --val-every 30 --val-episodes 20 \
  -o model.h5 --log log.csv -q || die train
[ -f model.h5 ] && [ -f model.best.h5 ] || die "checkpoint or best model missing"
[ "$(grep -c '^val,' log.csv)" = 2 ] || die "log.csv should hold 2 validation records"
fsh-adapt -m model.h5 -e test.h5 -o adapted.h5 -q || die adapt
a=$(fsh-eval -a adapted.h5 -e test.h5 --json --predictions pred.tsv) || die "eval adapted"
m=$(fsh-eval -m model.h5 -e test.h5 --json) || die "eval model"
[ "$a" = "$m" ] || die "adapted-file and in-memory evaluation differ: $a vs $m"
acc=$(sed 's/.*"accuracy":\([0-9.]*\).*/\1/' <<<"$a")
# 5-way chance is 0.20; 60 short episodes of a small Conv-4 already reach far above it.
awk -v a="$acc" 'BEGIN { exit !(a > 0.5) }' || die "accuracy $acc not above 0.5"
tsv=$(awk -F'\t' 'NR > 1 { n++; c += $6 } END { printf "%.6f", c / n }' pred.tsv)
awk -v a="$acc" -v t="$tsv" 'BEGIN { d = a - t; exit !(d < 1e-6 && d > -1e-6) }' ||
  die "predictions TSV accuracy $tsv != summary $acc (equal query counts per episode)"
grep -q '"bn":"support"' <<<"$a" || die "eval must say which normalisation ran"
t=$(fsh-eval -m model.h5 -e test.h5 --bn transductive --json) || die "eval transductive"
grep -q '"bn":"transductive"' <<<"$t" || die "transductive run not reported"
# Pipes: episodes through stdin.
fsh-episodes sample split.h5 --part test -N 5 -K 1 -Q 5 --count 40 --seed 9 -o - |
  fsh-eval -a adapted.h5 -e - --dataset split.h5 --json >pipe.json || die "eval from stdin"
[ "$(cat pipe.json)" = "$a" ] || die "eval via stdin differs"

# Bad inputs: one line on stderr naming the file or value, non-zero exit, nothing left.
printf 'not hdf5' >junk.h5
fsh-episodes sample split.h5 --part test -N 3 -K 1 -Q 5 --count 5 --seed 1 -o other.h5 -q
check() {  # check EXPECTED_TEXT OUTPUT_FILE -- command...
  local text=$1 out=$2
  shift 3
  local err
  err=$("$@" 2>&1 >/dev/null) && { die "should fail: $*"; return; }
  [ "$(wc -l <<<"$err")" -le 2 ] || die "more than 2 lines: $* -> $err"
  grep -q -- "$text" <<<"$err" || die "message of '$*' lacks '$text': $err"
  [ -n "$out" ] && [ -e "$out" ] && die "output $out left behind by: $*"
  ls | grep -q '\.tmp' && die "temporary file left behind by: $*"
  true
}
check "junk.h5" out.h5 -- fsh-train --data junk.h5 -n 5 -o out.h5
check "way" out.h5 -- fsh-train --data split.h5 -N 1 -n 5 -o out.h5
check "shot" out.h5 -- fsh-train --data split.h5 -K 0 -n 5 -o out.h5
check "junk.h5" out.h5 -- fsh-train --resume junk.h5 -o out.h5
check "fsh-model" out.h5 -- fsh-adapt -m split.h5 -e test.h5 -o out.h5
check "junk.h5" out.h5 -- fsh-adapt -m model.h5 -e junk.h5 -o out.h5
check "transductive" out.h5 -- fsh-adapt -m model.h5 -e test.h5 --bn sometimes -o out.h5
check "other episodes" "" -- fsh-eval -a adapted.h5 -e other.h5
check "fsh-adapted" "" -- fsh-eval -a model.h5 -e test.h5
check "exactly one" "" -- fsh-eval -e test.h5
exit $fail
