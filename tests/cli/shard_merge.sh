#!/usr/bin/env bash
# Sharded adaptation and evaluation, merged: for protonet, MAML and the hypernetwork (with
# refinement, so per-episode convolutions), fsh-adapt --shard i/n for n = 1, 2, 3 and
# fsh-adapt --merge give exactly the unsharded fsh-adapt file (every dataset and attribute but
# /provenance, compared with h5py, not fsh); fsh-eval --shard on the parts (and on the complete
# file, and with --model) merged with fsh-eval --merge prints character for character the
# unsharded fsh-eval output (table, JSON) and predictions TSV. 2 episodes in 3 shards (one
# empty) work too. The partial files' shard attributes and episodes fingerprint are checked
# against an independent computation from man 5 fsh-adapted. Every refusal (missing,
# overlapping, foreign parts, unknown version, bad --shard) is one line naming the file, with
# nothing left behind.
set -u
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d"
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }
py=/usr/bin/python3
if ! $py -c 'import h5py, numpy' 2>/dev/null; then
  echo "SKIP: /usr/bin/python3 has no h5py/numpy" >&2
  exit 77
fi

fsh-episodes synth --classes 30 --instances 6 --seed 2 -o glyphs.h5 -q || die synth
fsh-episodes split glyphs.h5 --by class --fraction 0.6,0.2,0.2 -o split.h5 -q || die split
fsh-episodes sample split.h5 --part test -N 5 -K 1 -Q 3 --count 7 --seed 9 -o test.h5 -q ||
  die sample
fsh-episodes sample split.h5 --part test -N 5 -K 1 -Q 3 --count 2 --seed 4 -o two.h5 -q ||
  die "sample two"
fsh-episodes sample split.h5 --part test -N 5 -K 1 -Q 3 --count 7 --seed 10 -o other.h5 -q ||
  die "sample other"
# Budgets in episodes: the same models on every machine.
fsh-train --data split.h5 -N 5 -K 1 -Q 3 -n 6 --hidden 8 --val-every 0 -o proto.h5 -q ||
  die "train protonet"
fsh-train --data split.h5 -N 5 -K 1 -Q 3 -n 6 --hidden 8 --val-every 0 --seed 2 -o proto2.h5 \
  -q || die "train second protonet"
fsh-train --method maml --data split.h5 -n 4 --meta-batch 2 --hidden 8 --inner-steps 1 \
  --val-part none -o maml.h5 -q || die "train maml"
methods="proto maml"
if fsh-train --help | grep -q hypernet; then
  fsh-train --method hypernet --data split.h5 -N 5 -K 1 -Q 3 -n 4 --hidden 8 --refine-steps 1 \
    --val-part none -o hyper.h5 -q || die "train hypernet"
  methods="$methods hyper"
fi

# compare_adapted FULL MERGED: every object, dataset (dtype, shape, bytes) and attribute but
# /provenance equal; MERGED has no shard attributes.
compare_adapted() {
  $py - "$1" "$2" <<'EOF'
import sys, h5py, numpy as np
a_path, b_path = sys.argv[1], sys.argv[2]
def walk(f):
    out = {}
    def visit(name, obj):
        if name == "provenance" or name.startswith("provenance/"):
            return
        out[name] = obj
    f.visititems(visit)
    return out
def attrs(obj):
    return {k: obj.attrs[k] for k in obj.attrs}
def same_attr(x, y):
    x, y = np.asarray(x), np.asarray(y)
    return x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()
errors = []
with h5py.File(a_path, "r") as a, h5py.File(b_path, "r") as b:
    oa, ob = walk(a), walk(b)
    if sorted(oa) != sorted(ob):
        errors.append(f"objects differ: {sorted(set(oa) ^ set(ob))}")
    for name in sorted(set(oa) & set(ob)):
        x, y = oa[name], ob[name]
        if isinstance(x, h5py.Dataset) != isinstance(y, h5py.Dataset):
            errors.append(f"{name}: kind differs")
            continue
        if isinstance(x, h5py.Dataset):
            if x.dtype != y.dtype or x.shape != y.shape:
                errors.append(f"{name}: {x.dtype}{x.shape} vs {y.dtype}{y.shape}")
            elif x.dtype.kind == "O":
                if list(x[()]) != list(y[()]):
                    errors.append(f"{name}: strings differ")
            elif np.asarray(x[()]).tobytes() != np.asarray(y[()]).tobytes():
                errors.append(f"{name}: values differ")
        xa, ya = attrs(x), attrs(y)
        if sorted(xa) != sorted(ya):
            errors.append(f"{name}: attributes {sorted(xa)} vs {sorted(ya)}")
        for k in set(xa) & set(ya):
            if not same_attr(xa[k], ya[k]):
                errors.append(f"{name}@{k}: {xa[k]!r} vs {ya[k]!r}")
    ra, rb = attrs(a), attrs(b)
    for k in set(ra) | set(rb):
        if k not in ra or k not in rb or not same_attr(ra[k], rb[k]):
            errors.append(f"root attribute {k} differs")
    if "shard_index" in b["episodes"].attrs:
        errors.append("the merged file has shard attributes")
    if a["episodes"].attrs["count"] == 0:
        errors.append("no episodes compared")
for e in errors:
    print(f"{b_path} vs {a_path}: {e}", file=sys.stderr)
sys.exit(1 if errors else 0)
EOF
}

# check_parts EPISODES N PART_0 .. PART_N-1: the shard attributes hold what man 5 fsh-adapted
# says, computed here from the episodes file alone (FNV-1a 64 of the bytes the page lists).
check_parts() {
  $py - "$@" <<'EOF'
import sys, h5py, numpy as np
eps_path, n, parts = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def fnv(data, h=0xcbf29ce484222325):
    for byte in data:
        h = ((h ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h
with h5py.File(eps_path, "r") as e:
    classes = np.asarray(e["classes"], dtype="<i4")
    T, N = classes.shape
    K = e["support"].shape[1] // N
    Q = e["query"].shape[1] // N
    first = int(e.attrs.get("first", 0))
    seed = int(e.attrs.get("seed", 0))
    fp = e.attrs["dataset_fingerprint"]
    fp = fp.decode() if isinstance(fp, bytes) else str(fp)
    data = b"".join(np.int64(v).astype("<i8").tobytes() for v in (T, N, K, Q, first))
    data += np.uint64(seed).astype("<u8").tobytes() + fp.encode("ascii")
    for name in ("classes", "support", "query"):
        data += np.asarray(e[name], dtype="<i4").tobytes()
    want_fp = "%016x" % fnv(data)
bad = []
if len(parts) != n:
    bad.append(f"{len(parts)} parts for {n} shards")
for i, part in enumerate(parts):
    begin, end = i * T // n, (i + 1) * T // n
    with h5py.File(part, "r") as p:
        a = p["episodes"].attrs
        got = {k: (a[k].decode() if isinstance(a[k], bytes) else a[k]) for k in a}
        want = {"shard_index": i, "shard_count": n, "shard_begin": begin, "total_count": T,
                "count": end - begin, "episodes_fingerprint": want_fp}
        bad += [f"{part}: {k}: {got.get(k)!r}, expected {v!r}" for k, v in want.items()
                if got.get(k) != v]
        if p["episodes/head.bias"].shape[0] != end - begin:
            bad.append(f"{part}: head.bias rows")
for b in bad:
    print(b, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
}

# shard_pipeline MODEL EPISODES N: adapt, evaluate and merge in N shards; compare with the
# unsharded run in full.* (made by the caller).
shard_pipeline() {
  local m=$1 e=$2 n=$3 i parts=() evals=() tsvs=() out
  local tag=$m.$n.$e
  for ((i = n - 1; i >= 0; i--)); do  # backwards: the merge must not rely on the order
    fsh-adapt -m "$m.h5" -e "$e" --shard "$i/$n" -o "part.$tag.$i.h5" -q ||
      die "$tag: adapt shard $i/$n"
    parts+=("part.$tag.$i.h5")
    fsh-eval -a "part.$tag.$i.h5" -e "$e" --shard "$i/$n" --json -o "eval.$tag.$i.json" \
      --predictions "pred.$tag.$i.tsv" || die "$tag: eval shard $i/$n"
    evals+=("eval.$tag.$i.json")
    tsvs+=("pred.$tag.$i.tsv")
  done
  check_parts "$e" "$n" $(for ((i = 0; i < n; i++)); do echo "part.$tag.$i.h5"; done) ||
    die "$tag: shard attributes"
  fsh-adapt --merge "${parts[@]}" -o "merged.$tag.h5" -q || die "$tag: merge"
  compare_adapted "full.$m.$e.h5" "merged.$tag.h5" || die "$tag: merged file differs"
  out=$(fsh-eval --merge "${evals[@]}" --json) || die "$tag: eval merge"
  [ "$out" = "$(cat "full.$m.$e.json")" ] || die "$tag: merged JSON $out vs $(cat "full.$m.$e.json")"
  out=$(fsh-eval --merge "${evals[@]}") || die "$tag: eval merge (table)"
  [ "$out" = "$(cat "full.$m.$e.txt")" ] || die "$tag: merged table differs: $out"
  fsh-eval --merge "${tsvs[@]}" "${evals[@]}" --predictions "pred.$tag.tsv" -o "sum.$tag.txt" ||
    die "$tag: predictions merge"
  cmp -s "pred.$tag.tsv" "full.$m.$e.tsv" || die "$tag: merged predictions differ"
  cmp -s "sum.$tag.txt" "full.$m.$e.txt" || die "$tag: -o summary differs"
}

for m in $methods; do
  for e in test.h5 two.h5; do
    fsh-adapt -m "$m.h5" -e "$e" -o "full.$m.$e.h5" -q || die "$m: adapt $e"
    fsh-eval -a "full.$m.$e.h5" -e "$e" --json --predictions "full.$m.$e.tsv" \
      >"full.$m.$e.json" || die "$m: eval $e"
    fsh-eval -a "full.$m.$e.h5" -e "$e" >"full.$m.$e.txt" || die "$m: eval $e (table)"
  done
  # The hypernetwork in 3 shards only: the rule is the same for every method.
  for n in $([ "$m" = hyper ] && echo 3 || echo 1 2 3); do shard_pipeline "$m" test.h5 "$n"; done
  shard_pipeline "$m" two.h5 3  # shard 0/3 holds no episode
done
# Per-episode convolutions really were exercised (MAML's and the refining hypernetwork's).
for m in $methods; do
  [ "$m" = proto ] && continue
  $py -c 'import h5py, sys; sys.exit(0 if "conv0.weight" in h5py.File(sys.argv[1], "r")["episodes"] else 1)' \
    "full.$m.test.h5.h5" || die "$m's adapted file has no per-episode convolutions"
done

# fsh-eval --shard from the complete adapted file and from the model, merged.
evals=()
for i in 0 1 2; do
  fsh-eval -a full.proto.test.h5.h5 -e test.h5 --shard $i/3 --json -o "ca.$i.json" ||
    die "eval complete file shard $i/3"
  evals+=("ca.$i.json")
done
[ "$(fsh-eval --merge "${evals[@]}" --json)" = "$(cat full.proto.test.h5.json)" ] ||
  die "shards of the complete file: merged JSON differs"
grep -q '"source":"adapted [0-9a-f]\{16\}"' ca.0.json || die "complete file's shard source: $(cat ca.0.json)"
evals=()
for i in 0 1; do
  fsh-eval -m maml.h5 -e test.h5 --shard $i/2 --json -o "cm.$i.json" || die "eval --model shard $i/2"
  evals+=("cm.$i.json")
done
[ "$(fsh-eval --merge "${evals[@]}" --json)" = "$(cat full.maml.test.h5.json)" ] ||
  die "shards of --model: merged JSON differs"
# A --model shard and an adapted part of the same model are the same source.
[ "$(fsh-eval --merge cm.0.json eval.maml.2.test.h5.1.json --json)" = "$(cat full.maml.test.h5.json)" ] ||
  die "--model shard and adapted part of one model did not merge"
# The table of a shard says which it is.
fsh-eval -a part.proto.3.test.h5.1.h5 -e test.h5 --shard 1/3 |
  grep -q "^shard"$'\t'"1/3 (episodes 2-3 of 7)\$" || die "shard table line"

# fsh-episodes info says which shard a part is.
fsh-episodes info part.proto.3.test.h5.1.h5 | grep -q "^  shard  *1/3: episodes 2-3 of 7; episodes fingerprint [0-9a-f]\{16\}" ||
  die "info does not show the shard: $(fsh-episodes info part.proto.3.test.h5.1.h5)"

# ---- refusals: one line naming the file (or the shards), nothing left behind ---------------
check() {  # check EXPECTED_TEXT EXIT_CODE OUTPUT_FILE -- command...
  local text=$1 code=$2 out=$3
  shift 4
  local err rc
  err=$("$@" 2>&1 >/dev/null)
  rc=$?
  [ "$rc" = "$code" ] || die "exit $rc (expected $code): $* -> $err"
  [ "$(wc -l <<<"$err")" -le 2 ] || die "more than 2 lines: $* -> $err"
  grep -q -- "$text" <<<"$err" || die "message of '$*' lacks '$text': $err"
  [ -n "$out" ] && [ -e "$out" ] && die "output $out left behind by: $*"
  ls | grep -q '\.tmp' && die "temporary file left behind by: $*"
  true
}
P=part.proto.3.test.h5  # P.0.h5 .. P.2.h5: shards of 3
p2=part.proto.2.test.h5
for bad in 3/3 1/0 -1/2 1 a/b 1/2x " 1/2" 1/99999999999; do
  check "shard" 2 out.h5 -- fsh-adapt -m proto.h5 -e test.h5 --shard "$bad" -o out.h5
  check "shard" 2 "" -- fsh-eval -a full.proto.test.h5.h5 -e test.h5 --shard "$bad"
done
check "shard" 2 out.h5 -- fsh-adapt -m proto.h5 --support . --shard 0/2 -o out.h5
check "shard 1/3 (episodes 2-3 of 7) missing" 1 out.h5 -- fsh-adapt --merge $P.0.h5 $P.2.h5 -o out.h5
check "2 shards missing" 1 out.h5 -- fsh-adapt --merge $P.1.h5 -o out.h5
check "$P.0.h5: shard 0/3 given twice" 1 out.h5 -- \
  fsh-adapt --merge $P.0.h5 $P.1.h5 $P.2.h5 $P.0.h5 -o out.h5
check "$p2.1.h5: shard 1/2, but $P.0.h5 is shard 0/3" 1 out.h5 -- \
  fsh-adapt --merge $P.0.h5 $p2.1.h5 $P.2.h5 -o out.h5
fsh-adapt -m proto2.h5 -e test.h5 --shard 1/3 -o other-model.h5 -q || die "other model shard"
check "other-model.h5: adapted from another model than $P.0.h5" 1 out.h5 -- \
  fsh-adapt --merge $P.0.h5 other-model.h5 $P.2.h5 -o out.h5
fsh-adapt -m proto.h5 -e test.h5 --bn transductive --shard 1/3 -o other-bn.h5 -q || die "bn shard"
check "other-bn.h5: adapted from another model" 1 out.h5 -- \
  fsh-adapt --merge $P.0.h5 other-bn.h5 $P.2.h5 -o out.h5
fsh-adapt -m proto.h5 -e other.h5 --shard 1/3 -o other-eps.h5 -q || die "other episodes shard"
check "other-eps.h5: adapted to other episodes than $P.0.h5" 1 out.h5 -- \
  fsh-adapt --merge $P.0.h5 other-eps.h5 $P.2.h5 -o out.h5
check "full.proto.test.h5.h5: not a shard" 1 out.h5 -- \
  fsh-adapt --merge $P.0.h5 full.proto.test.h5.h5 -o out.h5
cp $P.1.h5 v3.h5
$py -c 'import h5py; f = h5py.File("v3.h5", "r+"); f.attrs["fsh_format_version"] = 3' || die h5py
check "v3.h5: this file is fsh-adapted version 3" 1 out.h5 -- \
  fsh-adapt --merge $P.0.h5 v3.h5 $P.2.h5 -o out.h5
cp $P.1.h5 lying.h5
$py -c 'import h5py, numpy as np; f = h5py.File("lying.h5", "r+"); f["episodes"].attrs["shard_begin"] = np.int64(3)' ||
  die h5py
check "lying.h5: /episodes: shard 1/3 of 7 episodes holds episodes 2-3" 1 out.h5 -- \
  fsh-adapt --merge $P.0.h5 lying.h5 $P.2.h5 -o out.h5
cp $P.1.h5 half.h5
$py -c 'import h5py; f = h5py.File("half.h5", "r+"); del f["episodes"].attrs["total_count"]' ||
  die h5py
check "half.h5: /episodes has 5 of the 6 shard attributes" 1 out.h5 -- \
  fsh-adapt --merge $P.0.h5 half.h5 $P.2.h5 -o out.h5
check "merge" 2 out.h5 -- fsh-adapt --merge $P.0.h5 -m proto.h5 -o out.h5
# A previous output stays as it was when a merge fails.
cp full.proto.test.h5.h5 keep.h5
check "missing" 1 "" -- fsh-adapt --merge $P.0.h5 -o keep.h5
cmp -s keep.h5 full.proto.test.h5.h5 || die "a failed merge changed its output"

# fsh-eval with parts.
check "$P.0.h5: holds only the classifiers of episodes 0-1 of 7 (fsh-adapt --shard 0/3)" 1 "" -- \
  fsh-eval -a $P.0.h5 -e test.h5
check "$P.0.h5: holds only" 1 out.json -- fsh-eval -a $P.0.h5 -e test.h5 --shard 1/3 --json -o out.json
check "$P.1.h5: adapted to other episodes" 1 "" -- fsh-eval -a $P.1.h5 -e other.h5 --shard 1/3
check "a shard of adapted classifiers" 2 "" -- fsh-eval -a $P.1.h5 --images glyphs.h5
E=eval.proto.3.test.h5
check "shard 2/3 (episodes 4-6 of 7) missing" 1 "" -- fsh-eval --merge $E.0.json $E.1.json
check "$E.1.json: shard 1/3 given twice" 1 "" -- fsh-eval --merge $E.0.json $E.1.json $E.1.json $E.2.json
check "eval.proto.2.test.h5.1.json: shard 1/2, but $E.0.json is shard 0/3" 1 "" -- \
  fsh-eval --merge $E.0.json eval.proto.2.test.h5.1.json $E.2.json
check "eval.maml.3.test.h5.1.json: scored other classifiers than $E.0.json" 1 "" -- \
  fsh-eval --merge $E.0.json eval.maml.3.test.h5.1.json $E.2.json
check "ca.1.json: scored other classifiers" 1 "" -- fsh-eval --merge $E.0.json ca.1.json $E.2.json
fsh-eval -a other-eps.h5 -e other.h5 --shard 1/3 --json -o other-eps.json || die "eval other"
check "other-eps.json: scored other episodes than $E.0.json" 1 "" -- \
  fsh-eval --merge $E.0.json other-eps.json $E.2.json
sed 's/"fsh_format_version":1/"fsh_format_version":2/' $E.1.json >v2.json
check "v2.json: this file is fsh-eval-shard version 2; this build reads up to 1" 1 "" -- \
  fsh-eval --merge $E.0.json v2.json $E.2.json
sed 's/"correct":\[\([0-9]*\),/"correct":[\1,99,/' $E.1.json >counts.json
check "counts.json: episodes is 2 but \"correct\" holds 3 counts" 1 "" -- \
  fsh-eval --merge $E.0.json counts.json $E.2.json
head -c 40 $E.1.json >cut.json
check "cut.json: not valid JSON" 1 "" -- fsh-eval --merge $E.0.json cut.json $E.2.json
fsh-eval -a full.proto.test.h5.h5 -e test.h5 >table.txt
check "table.txt: neither an fsh-eval shard" 1 "" -- fsh-eval --merge $E.0.json table.txt
T=pred.proto.3.test.h5
check "no predictions for episodes 2-3 of 7" 1 out.tsv -- \
  fsh-eval --merge $E.0.json $E.1.json $E.2.json $T.0.tsv $T.2.tsv --predictions out.tsv
check "$T.1.tsv: episode 2: predictions given twice (also in $T.1.tsv)" 1 out.tsv -- \
  fsh-eval --merge $E.0.json $E.1.json $E.2.json $T.0.tsv $T.1.tsv $T.1.tsv $T.2.tsv --predictions out.tsv
# One query's outcome changed: the counts no longer match the shards'.
awk -F'\t' -v OFS='\t' 'NR == 2 { if ($6 == 1) { $5 = ($4 + 1) % 5; $6 = 0 } else { $5 = $4; $6 = 1 } } 1' \
  $T.1.tsv >changed.tsv
check "changed.tsv: episode 2: .* in the evaluation shards" 1 out.tsv -- \
  fsh-eval --merge $E.0.json $E.1.json $E.2.json $T.0.tsv changed.tsv $T.2.tsv --predictions out.tsv
check "name the merged file with --predictions" 2 "" -- fsh-eval --merge $E.0.json $E.1.json $E.2.json $T.0.tsv
check "merge" 2 "" -- fsh-eval --merge $E.0.json -a full.proto.test.h5.h5
exit $fail
