#!/bin/bash
# The merge step after eval-array.sh: for each model, its SHARDS partial files combined into
# exactly what one unsharded fsh-adapt + fsh-eval run writes (fsh-adapt(1), fsh-eval(1), SHARDS):
#   OUT/<i>-<name>/adapted.h5        fsh-adapt --merge: the adapted classifiers of every episode
#   OUT/<i>-<name>/summary.txt       fsh-eval --merge: the summary table
#   OUT/<i>-<name>/summary.json      the same as JSON
#   OUT/<i>-<name>/predictions.tsv   the per-query predictions
# and OUT/summary.tsv, one line per model: index, model, method, episodes, accuracy, ci95.
# A missing, doubled or foreign shard stops the merge with a message naming it (and the task to
# rerun: task = i x SHARDS + shard); nothing is written for that model.
#
#   sbatch --dependency=afterok:ARRAY_JOB_ID eval-merge.sh EPISODES SHARDS OUT MODEL...
#
# The same arguments as eval-array.sh. Environment: FSH_BIN (folder of the fsh tools; default:
# PATH), FSH_REMOVE_PARTS (1: remove each model's partial files once they are merged; by
# default they are kept, so the merge can be rerun).
#
#SBATCH --job-name=fsh-eval-merge
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --time=00:30:00
#SBATCH --output=fsh-eval-merge-%j.log
set -euo pipefail
usage="usage: eval-merge.sh EPISODES SHARDS OUT MODEL..."
[ $# -ge 4 ] || { echo "$usage" >&2; exit 2; }
shards=$2 out=$3
shift 3
[[ "$shards" =~ ^[1-9][0-9]*$ ]] || { echo "eval-merge.sh: SHARDS must be a positive integer, not '$shards'" >&2; exit 2; }
bin=${FSH_BIN:+$FSH_BIN/}
json_field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p"; }

summary=()
i=0
for model in "$@"; do
  dir=$out/$i-$(basename "$model" .h5)
  parts=() evals=() tsvs=()
  for ((s = 0; s < shards; s++)); do
    for f in "$dir/part.$s.h5" "$dir/part.$s.json" "$dir/part.$s.tsv"; do
      [ -f "$f" ] || {
        echo "eval-merge.sh: $f is missing: rerun task $((i * shards + s)) of the array (model $model, shard $s/$shards)" >&2
        exit 1
      }
    done
    parts+=("$dir/part.$s.h5")
    evals+=("$dir/part.$s.json")
    tsvs+=("$dir/part.$s.tsv")
  done
  "${bin}fsh-adapt" --merge "${parts[@]}" -q -o "$dir/adapted.h5"
  "${bin}fsh-eval" --merge "${evals[@]}" "${tsvs[@]}" --predictions "$dir/predictions.tsv" \
    -o "$dir/summary.txt"
  "${bin}fsh-eval" --merge "${evals[@]}" --json -o "$dir/summary.json"
  if [ "${FSH_REMOVE_PARTS:-0}" = 1 ]; then
    rm -f "${parts[@]}" "${evals[@]}" "${tsvs[@]}"
  fi
  json=$(cat "$dir/summary.json")
  summary+=("$i	$model	$(json_field method <<<"$json")	$(json_field episodes <<<"$json")	$(json_field accuracy <<<"$json")	$(json_field ci95 <<<"$json")")
  i=$((i + 1))
done
{
  printf 'index\tmodel\tmethod\tepisodes\taccuracy\tci95\n'
  printf '%s\n' "${summary[@]}"
} >"$out/summary.tsv.tmp"
mv "$out/summary.tsv.tmp" "$out/summary.tsv"
cat "$out/summary.tsv"
