#!/usr/bin/env bash
# fsh-episodes info describes fsh-model and fsh-adapted files: method, settings, batch-norm
# policy, training progress with the meta-batch, and how adapted classifiers are stored; the
# --json form is valid JSON with the same facts.
set -euo pipefail
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d"
fail() { echo "FAIL: $*" >&2; exit 1; }
fsh-episodes synth --classes 20 --instances 6 --seed 2 -q -o g.h5
fsh-episodes split g.h5 --by class --fraction 0.7,0.3 -q -o s.h5
fsh-train --data s.h5 -N 5 -K 1 -Q 2 --hidden 8 --val-every 0 -n 6 --meta-batch 4 --bn transductive -q -o m.h5
fsh-episodes sample s.h5 --part test -N 5 -K 1 -Q 2 --count 3 -q -o e.h5
fsh-adapt -m m.h5 -e e.h5 -o a.h5 -q
info=$(fsh-episodes info m.h5)
grep -q "fsh-model version 2" <<<"$info" || fail "model version: $info"
grep -q "method       protonet" <<<"$info" || fail "method line: $info"
grep -q "settings     (none)" <<<"$info" || fail "settings line: $info"
grep -q "batch norm   transductive statistics" <<<"$info" || fail "bn line: $info"
grep -q "6 of 6 episodes (5-way 1-shot 2-query, meta-batch 4), 2 adam steps" <<<"$info" ||
  fail "trained line: $info"
info=$(fsh-episodes info a.h5)
grep -q "classifiers  3 episodes (5-way 1-shot" <<<"$info" || fail "adapted episodes: $info"
grep -q "shared base convolutions" <<<"$info" || fail "adapted storage: $info"
fsh-episodes info m.h5 --json | /usr/bin/python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["method"] == "protonet" and j["settings"] == {} and j["bn"] == "transductive", j
assert j["episodes"] == 6 and j["meta_batch"] == 4 and j["backbone"]["hidden"] == 8, j'
fsh-episodes info a.h5 --json | /usr/bin/python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["episodes"] == 3 and j["per_episode_convolutions"] is False, j'
echo "info: models and adapted files described"
