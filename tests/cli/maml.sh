#!/usr/bin/env bash
# MAML through the tools: fsh-train --method maml takes the method's protocol for the flags not
# given (5-way, meta-batch 32, constant learning rate) and its settings as flags; the model
# records them (fsh-episodes info); resume continues; fsh-adapt writes per-episode fine-tuned
# networks that fsh-eval scores exactly like the model adapted in memory; bad settings fail with
# one line and leave no output.
set -u
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d"
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }

fsh-episodes synth --classes 30 --instances 6 --seed 2 -o glyphs.h5 -q || die synth
fsh-episodes split glyphs.h5 --by class --fraction 0.6,0.2,0.2 -o split.h5 -q || die split
fsh-episodes sample split.h5 --part test -N 5 -K 1 -Q 3 --count 6 --seed 9 -o test.h5 -q ||
  die sample
out=$(fsh-train --method maml --data split.h5 -n 64 --hidden 8 --val-every 64 --val-episodes 4 --val-query 2 \
  --inner-steps 2 -o maml.h5 --no-best 2>&1) || die "train: $out"
grep -q "maml: 5-way 1-shot 5-query, 64 episodes in meta-batches of 32" <<<"$out" ||
  die "MAML's protocol not taken: $out"
grep -q "inner_lr 0.4, inner_steps 2, adapt_steps 3, first_order false, ways 5" <<<"$out" ||
  die "settings not printed: $out"
info=$(fsh-episodes info maml.h5) || die info
grep -q "method  *maml" <<<"$info" || die "info: method"
grep -q "meta-batch 32" <<<"$info" || die "info: meta-batch"
grep -q "lr 0.001 constant" <<<"$info" || die "info: constant learning rate"
grep -q "inner_steps 2" <<<"$info" || die "info: settings"
fsh-train --resume maml.h5 -n 96 -o maml.h5 -q || die resume
grep -q "trained  *96 of 96" <<<"$(fsh-episodes info maml.h5)" || die "resume did not continue"
# First order, transductive, explicit protocol flags.
fsh-train --method maml --data split.h5 -N 4 -n 8 --meta-batch 4 --hidden 8 --first-order \
  --bn transductive --val-part none -o fo.h5 -q || die "first-order train"
grep -q "first_order true" <<<"$(fsh-episodes info fo.h5)" || die "first_order not stored"
grep -q "ways 4" <<<"$(fsh-episodes info fo.h5)" || die "ways not taken from -N"
fsh-adapt -m maml.h5 -e test.h5 -o adapted.h5 -q || die adapt
a=$(fsh-eval -a adapted.h5 -e test.h5 --json) || die "eval adapted"
m=$(fsh-eval -m maml.h5 -e test.h5 --json) || die "eval model"
[ "$a" = "$m" ] || die "adapted-file and in-memory evaluation differ: $a vs $m"
grep -q '"method":"maml"' <<<"$a" || die "eval must name the method"

check() {  # check EXPECTED_TEXT OUTPUT_FILE -- command...
  local text=$1 out=$2
  shift 3
  local err
  err=$("$@" 2>&1 >/dev/null) && { die "should fail: $*"; return; }
  [ "$(wc -l <<<"$err")" -le 2 ] || die "more than 2 lines: $* -> $err"
  grep -q -- "$text" <<<"$err" || die "message of '$*' lacks '$text': $err"
  [ -n "$out" ] && [ -e "$out" ] && die "output $out left behind by: $*"
  true
}
check "another method" out.h5 -- fsh-train --data split.h5 --inner-lr 0.1 -n 4 -o out.h5
check "inner_steps" out.h5 -- fsh-train --method maml --data split.h5 --inner-steps -1 -n 4 -o out.h5
check "inner-lr" out.h5 -- fsh-train --method maml --data split.h5 --inner-lr x -n 4 -o out.h5
check "val-way" out.h5 -- fsh-train --method maml --data split.h5 --val-way 3 -n 4 -o out.h5
fsh-episodes sample split.h5 --part test -N 3 -K 1 -Q 2 --count 2 --seed 1 -o three.h5 -q
check "3-way" out.h5 -- fsh-adapt -m maml.h5 -e three.h5 -o out.h5
exit $fail
