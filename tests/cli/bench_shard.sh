#!/bin/bash
# fsh-bench --shard i/n and --merge from the command line (the bit-for-bit merge itself is
# tests/test_bench_shard.cpp): every method of this build on two episodes files (one with fewer
# episodes than shards), in 3 shards run in reverse order, merged: the accuracies, intervals,
# paired differences, per-episode accuracies and adapted sizes of bench.csv and bench.json are
# those of the unsharded run, character for character; likewise with --data (the shards leave
# the episodes to the merge, which writes them). A part whose counts were changed changes the
# merged figures (the merge reads the parts, it does not score again). Refusals: --shard with
# --quick or with --merge, a bad --shard, a missing or doubled part, parts from other models or
# episodes than the merge is given -- one line naming the file, nothing written.
set -u
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d" || exit 1
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }

fsh-episodes synth --classes 30 --instances 6 --seed 2 -o glyphs.h5 -q || die synth
fsh-episodes split glyphs.h5 --by class --fraction 0.6,0.2,0.2 -o split.h5 -q || die split
fsh-episodes sample split.h5 --part test -N 5 -K 1 -Q 3 --count 7 --seed 9 -o a.h5 -q || die sample
fsh-episodes sample split.h5 --part test -N 5 -K 2 -Q 2 --count 2 --seed 4 -o b.h5 -q || die sample
fsh-episodes sample split.h5 --part test -N 5 -K 1 -Q 3 --count 7 --seed 10 -o other.h5 -q ||
  die sample
fsh-train --data split.h5 -N 5 -K 1 -Q 3 -n 6 --hidden 8 --val-part none --no-best -o proto.h5 -q ||
  die "train protonet"
fsh-train --data split.h5 -N 5 -K 1 -Q 3 -n 6 --hidden 8 --val-part none --no-best --seed 5 \
  -o proto2.h5 -q || die "train protonet 2"
fsh-train --method maml --data split.h5 -n 4 --meta-batch 2 --hidden 8 --inner-steps 1 \
  --val-part none --no-best -o maml.h5 -q || die "train maml"
models=(-m proto.h5 -m maml.h5)
if fsh-train --help | grep -q hypernet; then
  fsh-train --method hypernet --data split.h5 -N 5 -K 1 -Q 3 -n 4 --hidden 8 --refine-steps 1 \
    --val-part none --no-best -o hyper.h5 -q || die "train hypernet"
  models+=(-m hyper.h5)
fi
quiet=(--timing-episodes 1 --train-timing 0 --kernel-seconds 0.01 -q)

# The figures a merge must reproduce: every bench.csv column but the measured ones (times,
# memory), and bench.json's per-episode accuracies.
figures() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i !~ /^(adapt_ms_|adapt_peak|adapt_baseline|train_peak|train_baseline|train_tasks)/) keep[i] = 1 }
    { line = ""; for (i = 1; i <= NF; i++) if (i in keep) line = line $i ","; print line }' "$1/bench.csv"
  grep -o '"episode_accuracy":\[[^]]*\]' "$1/bench.json"
}

fsh-bench "${models[@]}" -e a.h5 -e b.h5 "${quiet[@]}" -o full >/dev/null || die "unsharded bench"
for i in 2 1 0; do
  fsh-bench "${models[@]}" -e a.h5 -e b.h5 "${quiet[@]}" --shard $i/3 -o parts >"out.$i" ||
    die "shard $i/3"
  [ -s "out.$i" ] && die "shard $i/3 printed on stdout: $(cat "out.$i")"
done
[ "$(ls parts)" = "$(printf 'shard-0-of-3.json\nshard-1-of-3.json\nshard-2-of-3.json')" ] ||
  die "the shards wrote: $(ls parts)"
grep -q '"key":"5w2s",.*"shard_begin":0,.*"correct":\[\]' parts/shard-0-of-3.json ||
  die "shard 0/3 of 2 episodes is not empty: $(cat parts/shard-0-of-3.json)"
fsh-bench "${models[@]}" -e a.h5 -e b.h5 "${quiet[@]}" --merge parts/shard-2-of-3.json \
  parts/shard-0-of-3.json parts/shard-1-of-3.json -o merged >merged.md || die merge
[ "$(figures merged)" = "$(figures full)" ] ||
  die "merged figures differ: $(diff <(figures full) <(figures merged))"
[ "$(grep -c '"episode_accuracy"' merged/bench.json)" = $((${#models[@]} / 2 * 2)) ] ||
  die "bench.json: $(grep -c '"episode_accuracy"' merged/bench.json) cells"
cmp -s merged.md merged/bench.md || die "the merge did not print bench.md"
grep -q "comparison (accuracies from 3 shards)" merged/bench.md || die "bench.md does not say it merged"

# The merge reads the parts: one changed count changes the merged figures.
first=$(grep -o '"correct":\[[0-9]*' parts/shard-1-of-3.json | head -1 | grep -o '[0-9]*$')
sed "0,/\"correct\":\[$first/s//\"correct\":[$((first == 0 ? 1 : first - 1))/" \
  parts/shard-1-of-3.json >changed.json
fsh-bench "${models[@]}" -e a.h5 -e b.h5 "${quiet[@]}" --merge parts/shard-0-of-3.json \
  changed.json parts/shard-2-of-3.json -o changed >/dev/null || die "merge with a changed count"
[ "$(figures changed)" = "$(figures full)" ] && die "a changed count did not change the merge"

# --data: the shards draw the same episodes; the merge writes them, as the unsharded run does.
data=(--data split.h5 --configs 5w1s,5w2s -Q 2 --count 5 --seed 3)
fsh-bench "${models[@]}" "${data[@]}" "${quiet[@]}" -o dfull >/dev/null || die "unsharded --data"
for i in 0 1; do
  fsh-bench "${models[@]}" "${data[@]}" "${quiet[@]}" --shard $i/2 -o dparts >/dev/null ||
    die "--data shard $i/2"
done
[ -e dparts/episodes ] && die "a shard wrote the episodes"
fsh-bench "${models[@]}" "${data[@]}" "${quiet[@]}" --merge dparts/*.json -o dmerged >/dev/null ||
  die "--data merge"
[ "$(figures dmerged)" = "$(figures dfull)" ] ||
  die "--data: merged figures differ: $(diff <(figures dfull) <(figures dmerged))"
[ -f dmerged/episodes/5w1s.h5 ] && [ -f dmerged/episodes/5w2s.h5 ] || die "the merge wrote no episodes"

# ---- refusals: one line naming the file, nothing written ------------------------------------
check() {  # check EXPECTED_TEXT EXIT_CODE -- command...
  local text=$1 code=$2
  shift 3
  local err rc
  rm -rf out
  err=$("$@" -o out 2>&1 >/dev/null)
  rc=$?
  [ "$rc" = "$code" ] || die "exit $rc (expected $code): $* -> $err"
  [ "$(wc -l <<<"$err")" -le 2 ] || die "more than 2 lines: $* -> $err"
  grep -q -- "$text" <<<"$err" || die "message of '$*' lacks '$text': $err"
  [ -e out ] && die "output written by: $*"
  true
}
P=parts/shard
check "does not apply to --quick" 2 -- fsh-bench --quick --shard 0/2
check "does not apply to --quick" 2 -- fsh-bench --quick --merge $P-0-of-3.json
check "excludes" 2 -- fsh-bench "${models[@]}" -e a.h5 --shard 0/2 --merge $P-0-of-3.json
for bad in 3/3 1/0 a/b 1; do
  check "shard" 2 -- fsh-bench "${models[@]}" -e a.h5 --shard "$bad"
done
check "shard 1/3 (episodes 2-3 of 7) missing" 1 -- \
  fsh-bench "${models[@]}" -e a.h5 -e b.h5 --merge $P-0-of-3.json $P-2-of-3.json
check "$P-0-of-3.json: shard 0/3 given twice" 1 -- \
  fsh-bench "${models[@]}" -e a.h5 -e b.h5 --merge $P-0-of-3.json $P-1-of-3.json $P-2-of-3.json $P-0-of-3.json
check "dparts/shard-0-of-2.json: shard 0/2, but $P-1-of-3.json is shard 1/3" 1 -- \
  fsh-bench "${models[@]}" -e a.h5 -e b.h5 --merge $P-1-of-3.json dparts/shard-0-of-2.json
check "$P-2-of-3.json: the shards scored other 5-way 1-shot episodes" 1 -- \
  fsh-bench "${models[@]}" -e other.h5 -e b.h5 --merge $P-2-of-3.json $P-0-of-3.json $P-1-of-3.json
check "$P-0-of-3.json: the shards scored 'protonet' (proto.h5, fingerprint [0-9a-f]*) on 5-way 1-shot where this run has 'protonet' (proto2.h5" 1 -- \
  fsh-bench -m proto2.h5 "${models[@]:2}" -e a.h5 -e b.h5 --merge $P-0-of-3.json $P-1-of-3.json $P-2-of-3.json
check "$P-0-of-3.json: the shards scored 2 configurations, this run has 1" 1 -- \
  fsh-bench "${models[@]}" -e a.h5 --merge $P-0-of-3.json $P-1-of-3.json $P-2-of-3.json
check "full/bench.csv: not valid JSON" 1 -- \
  fsh-bench "${models[@]}" -e a.h5 -e b.h5 --merge full/bench.csv
check "full/bench.json: not an fsh-bench shard" 1 -- \
  fsh-bench "${models[@]}" -e a.h5 -e b.h5 --merge full/bench.json
exit $fail
