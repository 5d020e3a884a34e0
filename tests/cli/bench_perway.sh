#!/usr/bin/env bash
# fsh-bench with one model per way count: MAML trained 5-way and 20-way (a few episodes each,
# budgets in episodes) under one label beside ProtoNet. Each configuration must be scored by
# the model of its ways -- its per-episode accuracies those fsh-eval gives for that model on the
# same episodes -- and every report must name that model. Then the refusals: models that may
# not share a label, and a configuration no model fits: one line, exit status 2, no output
# folder left.
set -u
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d" || exit 1
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }

# 60 classes, half of them to test on: enough for 20-way episodes.
fsh-episodes synth --classes 60 --instances 8 --seed 3 -o g.h5 -q || die "synth"
fsh-episodes split g.h5 --by class --fraction 0.5,0,0.5 -o s.h5 -q || die "split"
for n in 5 20; do
  fsh-episodes sample s.h5 --part test -N "$n" -K 1 -Q 2 --count 4 --seed "$n" -o "${n}w1s.h5" \
    -q || die "sample ${n}w1s"
done
fsh-train --data s.h5 -N 5 -K 1 -Q 2 -n 2 --hidden 8 --val-part none -o p.h5 -q || die "protonet"
for n in 5 20; do
  fsh-train --method maml --data s.h5 -N "$n" -K 1 -Q 2 -n 2 --hidden 8 --val-part none \
    --seed "$n" -o "m$n.h5" -q || die "maml $n-way"
done

fsh-bench -m p.h5 -m maml=m20.h5 -m maml=m5.h5 -e 5w1s.h5 -e 20w1s.h5 --timing-episodes 1 \
  --train-timing 0 --kernel-seconds 0.02 -o out -q >out.md || die "fsh-bench"
grep -q '^| maml (m20.h5) | ' out.md || die "the 20-way table does not name m20.h5"
grep -q '^| maml | m5.h5 (5-way head) | ' out.md || die "the methods table lacks m5.h5"
for n in 5 20; do
  fsh-eval -m "m$n.h5" -e "${n}w1s.h5" --predictions "m$n.tsv" -q >/dev/null ||
    die "fsh-eval m$n.h5"
done
/usr/bin/python3 - <<'EOF' || die "a configuration was not scored by the model of its ways"
import csv, json
r = json.load(open("out/bench.json"))
(s,) = r["sections"]
assert [(m["label"], m["model"], m["ways"]) for m in s["methods"]] == [
    ("protonet", "p.h5", None), ("maml", "m20.h5", 20), ("maml", "m5.h5", 5)], s["methods"]
assert [m["configurations"] for m in s["methods"]] == [["5w1s", "20w1s"], ["20w1s"], ["5w1s"]]
for c in s["configurations"]:
    n = c["n_way"]
    (x,) = [x for x in c["results"] if x["label"] == "maml"]
    assert x["model"] == f"m{n}.h5", (n, x["model"])
    # fsh-eval's per-query predictions of that model on the same episodes, per episode.
    rows = list(csv.DictReader(open(f"m{n}.tsv"), delimiter="\t"))
    want = []
    for e in range(c["episodes"]):
        q = [int(r["predicted"]) == int(r["label"]) for r in rows if int(r["episode"]) == e]
        want.append(sum(q) / len(q))
    assert all(abs(a - b) < 1e-9 for a, b in zip(x["episode_accuracy"], want)), (n, want, x)
    assert len(x["episode_accuracy"]) == len(want) == 4
rows = list(csv.DictReader(open("out/bench.csv")))
assert sorted((r["configuration"], r["label"], r["model"]) for r in rows) == sorted([
    ("5w1s", "protonet", "p.h5"), ("5w1s", "maml", "m5.h5"), ("20w1s", "protonet", "p.h5"),
    ("20w1s", "maml", "m20.h5")]), rows
svg = open("out/bench.svg").read()
assert "<title>maml (m20.h5): " in svg and "<title>maml (m5.h5): " in svg
EOF

# Refusals: one line, exit status 2, and no output folder.
refuse() {  # refuse EXPECTED_TEXT -- command...
  local text=$1 err rc
  shift 2
  rm -rf bad
  err=$("$@" 2>&1 >/dev/null)
  rc=$?
  [ "$rc" -eq 2 ] || die "exit status $rc, not 2: $* -> $err"
  [ "$(wc -l <<<"$err")" -eq 1 ] || die "more than one line: $* -> $err"
  grep -qF -- "$text" <<<"$err" || die "message of '$*' lacks '$text': $err"
  [ -e bad ] && die "output left behind by: $*"
  true
}
common=(-e 5w1s.h5 -e 20w1s.h5 --timing-episodes 1 --train-timing 0 -o bad)
refuse "maml has no model for 20-way 1-shot: its model's head is 5-way (m5.h5); give one trained 20-way as well (fsh-train --method maml -N 20" \
  -- fsh-bench -m p.h5 -m m5.h5 "${common[@]}"
# With --data: refused before the episodes are sampled and written.
refuse "maml has no model for 20-way 1-shot" -- fsh-bench -m p.h5 -m m5.h5 --data s.h5 \
  --configs 5w1s,20w1s --count 2 -o bad
refuse "two models labelled 'maml' have 5-way heads (m5.h5 and m5.h5)" -- \
  fsh-bench -m m5.h5 -m m20.h5 -m m5.h5 "${common[@]}"
refuse "two models are labelled 'x' (p.h5 and m20.h5) but are of different methods" -- \
  fsh-bench -m x=p.h5 -m x=m20.h5 "${common[@]}"
refuse "two models are labelled 'protonet' (p.h5 and p.h5): protonet scores any number of ways" \
  -- fsh-bench -m p.h5 -m m5.h5 -m p.h5 "${common[@]}"
exit $fail
