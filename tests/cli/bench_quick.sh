#!/usr/bin/env bash
# fsh-bench --quick on a tiny budget: both sections hold every method of this build; the data,
# episodes and models it wrote work with the other tools and reproduce its accuracy
# (fsh-eval); fsh-episodes show --predictions draws an episode's errors and refuses predictions
# of other episodes. Then fsh-bench's refusals: one line, exit status, no output left behind.
set -u
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d"
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }

methods=$(fsh-bench --help | tr '\n' ' ' | sed -n 's/.*Methods in this build: \([^.]*\)\..*/\1/p')
[ -n "$methods" ] || die "fsh-bench --help does not list the methods"
fsh-bench --quick --classes 100 --train-episodes 3 --train-seconds 0 --rgb-train-seconds 0 \
  --count 4 --timing-episodes 2 \
  --train-timing 0 --kernel-seconds 0.02 -o q -q >q.md || die "fsh-bench --quick"
for f in bench.md bench.csv bench.json bench.svg data/glyphs.h5 episodes/5w1s.h5 \
  episodes/5w5s.h5 episodes/20w1s.h5 rgb/data/glyphs.h5 rgb/episodes/5w1s.h5; do
  [ -f "q/$f" ] || die "q/$f missing"
done
cmp -s q.md q/bench.md || die "stdout differs from bench.md"
for m in ${methods//,/ }; do
  [ -f "q/models/$m.h5" ] && [ -f "q/rgb/models/$m.h5" ] || die "model of $m missing"
done
/usr/bin/python3 - "$methods" <<'EOF' || die "bench.json does not hold every method"
import json, sys
want = [m.strip() for m in sys.argv[1].split(",")]
r = json.load(open("q/bench.json"))
assert [s["name"] for s in r["sections"]] == ["glyphs", "RGB glyphs"], r["sections"]
for s in r["sections"]:
    assert [m["label"] for m in s["methods"]] == want, (s["name"], s["methods"])
    assert all(m["trained_here"] and m["trained_episodes"] == 3 for m in s["methods"])
    for c in s["configurations"]:
        assert [x["label"] for x in c["results"]] == want
        assert all(len(x["episode_accuracy"]) == c["episodes"] for x in c["results"])
assert [(s["height"], s["channels"]) for s in r["sections"]] == [(28, 1), (84, 3)]
assert [c["key"] for c in r["sections"][0]["configurations"]] == ["5w1s", "5w5s", "20w1s"]
assert r["kernels"]["blas_corename"] and r["kernels"]["sgemm_gflops_1t"] > 0
assert len(r["kernels"]["conv4"]) == 2
assert r["wall_seconds"] > 0 and r["cpu_seconds"] > 0
EOF

# The files it wrote, through the other tools: the same accuracy as fsh-bench reported.
e=$(fsh-eval -m q/models/protonet.h5 -e q/episodes/5w1s.h5 --json --predictions p.tsv) ||
  die "fsh-eval on the quick outputs"
/usr/bin/python3 - "$e" <<'EOF' || die "fsh-eval and fsh-bench disagree: $e"
import json, sys
ev = json.loads(sys.argv[1])
r = json.load(open("q/bench.json"))
c = r["sections"][0]["configurations"][0]
(x,) = [x for x in c["results"] if x["label"] == "protonet"]
assert abs(ev["accuracy"] - x["accuracy"]["mean"]) < 1e-6, (ev, x["accuracy"])
EOF
fsh-episodes show q/episodes/5w1s.h5 --predictions p.tsv --episode 3 --scale 2 -o errors.png ||
  die "show --predictions"
[ -s errors.png ] || die "errors.png missing"
err=$(fsh-episodes show q/episodes/5w5s.h5 --predictions p.tsv --episode 0 -o other.png 2>&1) &&
  die "predictions of other episodes accepted"
grep -q "other episodes" <<<"$err" || die "refusal does not say why: $err"
[ -e other.png ] && die "other.png left behind"

# Refusals: one line on stderr, the exit status, no output.
check() {  # check EXPECTED_TEXT -- command...
  local text=$1
  shift 2
  local err
  err=$("$@" 2>&1 >/dev/null) && { die "should fail: $*"; return; }
  [ "$(wc -l <<<"$err")" -le 2 ] || die "more than 2 lines: $* -> $err"
  grep -q -- "$text" <<<"$err" || die "message of '$*' lacks '$text': $err"
  [ -e out ] && die "output left behind by: $*"
  true
}
printf 'not hdf5' >junk.h5
check "models to compare" -- fsh-bench -e q/episodes/5w1s.h5 -o out
check "exactly one" -- fsh-bench -m q/models/protonet.h5 -o out
check "quick" -- fsh-bench --quick -m q/models/protonet.h5 -o out
check "junk.h5" -- fsh-bench -m junk.h5 -e q/episodes/5w1s.h5 -o out
check "LABEL=PATH" -- fsh-bench -m q/models/protonet.h5 -m q/models/protonet.h5 \
  -e q/episodes/5w1s.h5 -o out
check "nobody" -- fsh-bench -m q/models/protonet.h5 -e q/episodes/5w1s.h5 --reference nobody \
  -o out
check "84x84x3" -- fsh-bench -m q/rgb/models/protonet.h5 -e q/episodes/5w1s.h5 -o out
check "84x84x3" -- fsh-bench -m q/rgb/models/protonet.h5 --data q/data/glyphs.h5 -o out
check "nobody" -- fsh-bench -m q/models/protonet.h5 --data q/data/glyphs.h5 --reference nobody \
  -o out
check "exceeds" -- fsh-bench -m q/models/protonet.h5 --data q/data/glyphs.h5 \
  --configs 5w1s,99w1s --within-group -o out
check "NwKs" -- fsh-bench -m q/models/protonet.h5 --data q/data/glyphs.h5 --configs 5x1 -o out
check "applies to --data" -- fsh-bench -m q/models/protonet.h5 -e q/episodes/5w1s.h5 \
  --configs 5w1s -o out
exit $fail
