#!/bin/sh
# The results table of omniglot.mk: each method on each configuration, its accuracy from
# fsh-eval (OUT/eval/M-C.json), the paired difference, adaptation time and training record from
# fsh-bench (OUT/bench/bench.csv), and the published figure beside it. fsh-bench scores the same
# episodes the way fsh-adapt + fsh-eval do, so its accuracy must equal fsh-eval's: a difference
# is marked MISMATCH and fails (exit 1).
#
# Usage: omniglot-results.sh OUT "CONFIGS" "METHODS"    (e.g. OUT "5w1s 5w5s 20w1s" "protonet maml")
#
# Published figures, Omniglot with the Vinyals split (mean accuracy over test episodes):
#   ProtoNet  Snell, Swersky & Zemel 2017, "Prototypical Networks for Few-shot Learning",
#             Table 1: 5-way 98.8% (1-shot), 99.7% (5-shot); 20-way 96.0%, 98.9%.
#   MAML      Finn, Abbeel & Levine 2017, "Model-Agnostic Meta-Learning for Fast Adaptation of
#             Deep Networks", Table 1: 5-way 98.7 ± 0.4%, 99.9 ± 0.1%; 20-way 95.8 ± 0.3%,
#             98.9 ± 0.2%.
#   The hypernetwork is fsh's own method: no published figure.
set -eu
usage="usage: omniglot-results.sh OUT CONFIGS METHODS"
out=${1:?$usage}
configs=${2:?$usage}
methods=${3:?$usage}
csv=$out/bench/bench.csv
[ -f "$csv" ] || { echo "omniglot-results.sh: $csv: no such file" >&2; exit 1; }

published() {  # METHOD CONFIG
  case $1:$2 in
    protonet:5w1s) echo "98.8%" ;;
    protonet:5w5s) echo "99.7%" ;;
    protonet:20w1s) echo "96.0%" ;;
    protonet:20w5s) echo "98.9%" ;;
    maml:5w1s) echo "98.7%" ;;
    maml:5w5s) echo "99.9%" ;;
    maml:20w1s) echo "95.8%" ;;
    maml:20w5s) echo "98.9%" ;;
    *) echo "-" ;;
  esac
}
# json_field NAME FILE: the number after "NAME": in fsh-eval's one-line JSON.
json_field() { sed -n "s/.*\"$1\":\([-0-9.e]*\).*/\1/p" "$2"; }
# pad(TEXT, WIDTH): TEXT left-aligned in WIDTH characters (awk counts bytes; ± and Δ take two).
pad='function pad(t, w,   c) { c = t; w += gsub(/±|Δ/, "", c); return sprintf("%-" w "s", t) }'

first_json=$out/eval/${methods%% *}-${configs%% *}.json
[ -f "$first_json" ] || { echo "omniglot-results.sh: $first_json: no such file" >&2; exit 1; }
echo "Omniglot, Vinyals split: $(json_field episodes "$first_json") test episodes per" \
  "configuration, $(json_field n_query "$first_json") queries per class"
echo
awk "$pad"' BEGIN { print pad("test", 14) " " pad("method", 9) " " pad("accuracy", 17) " " \
  pad("Δ vs reference", 18) " " pad("adapt (ms)", 11) " " pad("trained", 24) " published" }'
status=0
for c in $configs; do
  label=$(echo "$c" | sed 's/^\([0-9]*\)w\([0-9]*\)s$/\1-way \2-shot/')
  for m in $methods; do
    json=$out/eval/$m-$c.json
    [ -f "$json" ] || { echo "omniglot-results.sh: $json: no such file" >&2; exit 1; }
    acc=$(json_field accuracy "$json")
    ci=$(json_field ci95 "$json")
    # The bench row of this configuration and label (columns found by their header names).
    row=$(awk -F, -v cfg="$c" -v lab="$m" '
      NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
      $col["configuration"] == cfg && $col["label"] == lab {
        print $col["accuracy"], ($col["delta"] == "" ? "-" : $col["delta"]),
              ($col["delta_ci95"] == "" ? "-" : $col["delta_ci95"]), $col["adapt_ms_median_1t"],
              $col["trained_episodes"], $col["trained_seconds"]
      }' "$csv")
    [ -n "$row" ] || { echo "omniglot-results.sh: $csv has no row for $m on $c" >&2; exit 1; }
    line=$(echo "$row" | awk -v acc="$acc" -v ci="$ci" -v tst="$label" -v m="$m" \
      -v pub="$(published "$m" "$c")" "$pad"' {
        if ($2 == "-") d = "(reference)"; else d = sprintf("%+.2f ± %.2f pp", 100 * $2, 100 * $3)
        printf "%s %s %s %s %s %s %s", pad(tst, 14), pad(m, 9),
          pad(sprintf("%.2f%% ± %.2f%%", 100 * acc, 100 * ci), 17), pad(d, 18),
          pad(sprintf("%.2f", $4), 11), pad(sprintf("%d episodes, %.0f s", $5, $6), 24), pub
        # fsh-eval prints 6 decimals, fsh-bench 10 significant digits.
        diff = $1 - acc; if (diff < 0) diff = -diff
        if (diff > 6e-7) printf "  MISMATCH: fsh-bench %s", $1
      }')
    case $line in *MISMATCH*) status=1 ;; esac
    echo "$line"
    label=""
  done
done
checked="fsh-bench, scoring the same episodes, gives the same accuracies"
[ $status = 0 ] || checked="fsh-bench's accuracy DIFFERS on the rows marked MISMATCH"
cat <<EOF

accuracy: fsh-eval on the adapted files, mean ± 95% CI over the episodes;
  $checked.
Δ: the paired difference with the reference method (fsh-bench --reference; protonet by
  default) on the same episodes, mean ± 95% CI of the per-episode differences.
adapt: median time of one episode's adaptation on one thread (fsh-bench).
trained: each model's own record (hypernet: episodes after its warm start, seconds with it).
published: ProtoNet, Snell et al. 2017, Table 1; MAML, Finn et al. 2017, Table 1 (both after
  far longer training on GPUs; MAML with transductive batch norm). All figures: $out/bench/bench.md
EOF
if [ $status != 0 ]; then
  echo "omniglot-results.sh: fsh-bench's accuracy differs from fsh-eval's (rows marked MISMATCH)" >&2
fi
exit $status
