#!/usr/bin/env bash
# fsh-bench --quick on a tiny budget: both sections hold every method of this build in every
# configuration, a method with a fixed head (MAML) through one model per way count (the 20-way
# configuration scored by the 20-way model); the data, episodes and models it wrote work with
# the other tools and reproduce its accuracies (fsh-eval); fsh-episodes show --predictions draws
# an episode's errors and refuses predictions of other episodes. Then fsh-bench's refusals: one
# line, exit status, no output left behind.
set -u
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d" || exit 1
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }

help=$(fsh-bench --help | tr '\n' ' ')
methods=$(sed -n 's/.*Methods in this build: \([^.]*\)\..*/\1/p' <<<"$help" | tr -d ' ')
fixed=$(sed -n 's/.*Heads fixed to one way count ([^)]*): \([^.]*\)\..*/\1/p' <<<"$help" | tr -d ' ')
[ -n "$methods" ] || die "fsh-bench --help does not list the methods"
[[ ",$fixed," == *,maml,* ]] || die "fsh-bench --help does not say maml's head is fixed: $fixed"
grep -q "every model scored on a configuration had the same budget" <<<"$help" ||
  die "fsh-bench --help does not say how the budget is shared"
# Time budgets far above what 3 episodes take, so that the episode budget binds whatever the
# machine's load (a loaded CI machine once stopped MAML's 84x84 training by time first).
fsh-bench --quick --classes 100 --train-episodes 3 --count 4 --timing-episodes 2 \
  --train-seconds 600 --rgb-train-seconds 600 \
  --train-timing 0.05 --kernel-seconds 0.02 -o q -q >q.md || die "fsh-bench --quick"
for f in bench.md bench.csv bench.json bench.svg data/glyphs.h5 episodes/5w1s.h5 \
  episodes/5w5s.h5 episodes/20w1s.h5 rgb/data/glyphs.h5 rgb/episodes/5w1s.h5; do
  [ -f "q/$f" ] || die "q/$f missing"
done
cmp -s q.md q/bench.md || die "stdout differs from bench.md"
for m in ${methods//,/ }; do  # (the methods every section holds)
  if [[ ",$fixed," == *",$m,"* ]]; then  # one model per way count of the section
    files="q/models/$m-5w.h5 q/models/$m-20w.h5 q/rgb/models/$m-5w.h5"
  else
    files="q/models/$m.h5 q/rgb/models/$m.h5"
  fi
  for f in $files; do [ -f "$f" ] || die "model $f missing"; done
done
/usr/bin/python3 - "$methods" "$fixed" <<'EOF' || die "bench.json does not hold every method"
import json, sys
want = sys.argv[1].split(",")
fixed = sys.argv[2].split(",")
r = json.load(open("q/bench.json"))
assert [s["name"] for s in r["sections"]] == ["glyphs", "RGB glyphs"], r["sections"]
# Every method in every configuration of both sections; a method with a fixed head through
# its model of the configuration's ways.
for s, d in zip(r["sections"], ["q", "q/rgb"]):
    models = [(m["label"], m["model"], m["ways"]) for m in s["methods"]]
    expect = []
    for m in want:
        if m in fixed:
            expect += [(m, f"{d}/models/{m}-{n}w.h5", n) for n in ([5, 20] if d == "q" else [5])]
        else:
            expect.append((m, f"{d}/models/{m}.h5", None))
    assert models == expect, (s["name"], models)
    assert all(m["trained_here"] and m["trained_episodes"] == 3 for m in s["methods"])
    for c in s["configurations"]:
        assert [x["label"] for x in c["results"]] == want, (c["key"], c["results"])
        assert all(len(x["episode_accuracy"]) == c["episodes"] for x in c["results"])
        for x in c["results"]:
            n = c["n_way"]
            assert x["model"] == (f"{d}/models/{x['label']}-{n}w.h5" if x["label"] in fixed
                                  else f"{d}/models/{x['label']}.h5"), (c["key"], x["model"])
assert [(s["height"], s["channels"]) for s in r["sections"]] == [(28, 1), (84, 3)]
assert [c["key"] for c in r["sections"][0]["configurations"]] == ["5w1s", "5w5s", "20w1s"]
assert r["kernels"]["blas_corename"] and r["kernels"]["sgemm_gflops_1t"] > 0
assert len(r["kernels"]["conv4"]) == 2
assert r["wall_seconds"] > 0 and r["cpu_seconds"] > 0
EOF

# The files it wrote, through the other tools: the same accuracy as fsh-bench reported.
# MAML's 20-way cell is its 20-way model's: fsh-eval of that model on the 20-way episodes.
e=$(fsh-eval -m q/models/protonet.h5 -e q/episodes/5w1s.h5 --json --predictions p.tsv) ||
  die "fsh-eval on the quick outputs"
e20=$(fsh-eval -m q/models/maml-20w.h5 -e q/episodes/20w1s.h5 --json) || die "fsh-eval maml-20w"
/usr/bin/python3 - "$e" "$e20" <<'EOF' || die "fsh-eval and fsh-bench disagree: $e $e20"
import json, sys
r = json.load(open("q/bench.json"))
for ev, key, label in ((sys.argv[1], "5w1s", "protonet"), (sys.argv[2], "20w1s", "maml")):
    ev = json.loads(ev)
    (c,) = [c for c in r["sections"][0]["configurations"] if c["key"] == key]
    (x,) = [x for x in c["results"] if x["label"] == label]
    assert abs(ev["accuracy"] - x["accuracy"]["mean"]) < 1e-6, (key, ev, x["accuracy"])
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
  [ -e out/bench.md ] && die "output left behind by: $*"
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
check "NwKs" -- fsh-bench -m q/models/protonet.h5 --data q/data/glyphs.h5 --configs 5x1 -o out
check "applies to --data" -- fsh-bench -m q/models/protonet.h5 -e q/episodes/5w1s.h5 \
  --configs 5w1s -o out
exit $fail
