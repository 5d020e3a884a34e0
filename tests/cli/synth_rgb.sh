#!/usr/bin/env bash
# The mini-ImageNet shape end to end on data fsh makes: `fsh-episodes synth --channels 3
# --size 84` -> split -> sample -> fsh-train (a few episodes) -> fsh-adapt -> fsh-eval.
# Checks: the dataset is 84x84x3; the adapted head reads Conv-4's 1600 features (64 filters x
# 5 x 5 after four 2x2 pools of 84); evaluating the adapted file equals evaluating the model in
# memory; a bad --channels fails with one line and leaves nothing behind. About 20 s on 2 cores.
set -u
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d"
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }

fsh-episodes synth --classes 24 --instances 6 --size 84 --channels 3 --seed 4 -q -o rgb.h5 ||
  die synth
fsh-episodes info rgb.h5 | grep -q '144 of 84x84x3 ' || die "rgb.h5 is not 144 images of 84x84x3"
fsh-episodes split rgb.h5 --by class --fraction 0.5,0.5 -q -o split.h5 || die split
fsh-episodes sample split.h5 --part test -N 5 -K 1 -Q 3 --count 6 --seed 9 -q -o test.h5 ||
  die sample
fsh-train --data split.h5 -N 5 -K 1 -Q 3 -n 12 --val-part none -q -o model.h5 || die train
fsh-adapt -m model.h5 -e test.h5 -q -o adapted.h5 || die adapt
fsh-episodes info adapted.h5 | grep -q ' 1600) float32' ||
  die "the adapted head does not read 1600 features: $(fsh-episodes info adapted.h5)"
a=$(fsh-eval -a adapted.h5 -e test.h5 --json) || die "eval adapted"
m=$(fsh-eval -m model.h5 -e test.h5 --json) || die "eval model"
grep -q '"episodes":6,"n_way":5' <<<"$a" || die "unexpected summary: $a"
[ "$a" = "$m" ] || die "adapted-file and in-memory evaluation differ: $a vs $m"

err=$(fsh-episodes synth --channels 2 -o bad.h5 2>&1 >/dev/null) && die "--channels 2 accepted"
grep -q -- '--channels' <<<"$err" || die "message lacks --channels: $err"
[ -e bad.h5 ] && die "bad.h5 left behind"

[ $fail = 0 ] && echo ok
exit $fail
