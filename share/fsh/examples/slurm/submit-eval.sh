#!/bin/bash
# Submits eval-array.sh as a job array of (models x SHARDS) tasks and eval-merge.sh as a job
# that starts when every task has succeeded (--dependency=afterok), with the same arguments:
#
#   submit-eval.sh [SBATCH_OPTION...] -- EPISODES SHARDS OUT MODEL...
#   submit-eval.sh EPISODES SHARDS OUT MODEL...
#
# SBATCH_OPTIONs (before --) go to both submissions (e.g. --partition=short --account=proj).
# Prints the two job ids. Run it from the folder the relative paths start from (the jobs start
# there too). Environment: FSH_SBATCH (the sbatch command; default sbatch); FSH_BIN,
# FSH_DATASET, FSH_THREADS and FSH_REMOVE_PARTS reach the jobs through sbatch's default
# --export=ALL.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
sbatch=${FSH_SBATCH:-sbatch}
opts=()
if [[ " $* " == *" -- "* ]]; then
  while [ "$1" != -- ]; do opts+=("$1"); shift; done
  shift
fi
[ $# -ge 4 ] || { echo "usage: submit-eval.sh [SBATCH_OPTION...] -- EPISODES SHARDS OUT MODEL..." >&2; exit 2; }
shards=$2
[[ "$shards" =~ ^[1-9][0-9]*$ ]] || { echo "submit-eval.sh: SHARDS must be a positive integer, not '$shards'" >&2; exit 2; }
tasks=$(($# - 3))
tasks=$((tasks * shards))
array=$($sbatch --parsable "${opts[@]}" --array=0-$((tasks - 1)) "$here/eval-array.sh" "$@")
array=${array%%;*}  # --parsable prints JOBID[;CLUSTER]
merge=$($sbatch --parsable "${opts[@]}" --dependency=afterok:"$array" "$here/eval-merge.sh" "$@")
echo "array job $array ($tasks tasks), merge job ${merge%%;*}"
