#!/bin/bash
# One task of a Slurm job array that adapts and scores several models (one per method, or per
# seed) on the same test episodes, each model's episodes split into SHARDS contiguous blocks:
# task t takes model t / SHARDS and shard t % SHARDS, so every shard is a task of its own and
# the tasks run on as many nodes as the cluster gives. eval-merge.sh, a job that depends on the
# array, combines each model's shards into exactly the files and numbers of one unsharded run
# (fsh-adapt(1) and fsh-eval(1), SHARDS). submit-eval.sh submits both.
#
#   sbatch --array=0-$((MODELS * SHARDS - 1)) eval-array.sh EPISODES SHARDS OUT MODEL...
#   sbatch --dependency=afterok:ARRAY_JOB_ID eval-merge.sh EPISODES SHARDS OUT MODEL...
#
# EPISODES  the test episodes (fsh-episodes(5); fsh-episodes sample)
# SHARDS    blocks per model (each one task)
# OUT       output folder (on a file system every node sees): task t writes
#           OUT/<i>-<name>/part.<s>.h5 (fsh-adapt --shard s/SHARDS), part.<s>.json and
#           part.<s>.tsv (fsh-eval --shard s/SHARDS --json, --predictions), for model i (from 0)
#           named <name>.h5
# MODEL...  trained models (fsh-model(5)), in the same order for the array and the merge
# Environment: FSH_DATASET (--dataset for episodes whose dataset is elsewhere), FSH_BIN (folder
#   of the fsh tools; default: PATH), FSH_THREADS (worker threads; default: the task's
#   SLURM_CPUS_PER_TASK, else all cores).
# The script needs nothing of Slurm but SLURM_ARRAY_TASK_ID: to run the array by hand,
#   for t in $(seq 0 $((MODELS * SHARDS - 1))); do SLURM_ARRAY_TASK_ID=$t eval-array.sh ...; done
#
#SBATCH --job-name=fsh-eval
#SBATCH --array=0-11
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=4
#SBATCH --time=01:00:00
#SBATCH --output=fsh-eval-%A_%a.log
set -euo pipefail
usage="usage: eval-array.sh EPISODES SHARDS OUT MODEL... (with SLURM_ARRAY_TASK_ID set)"
[ $# -ge 4 ] || { echo "$usage" >&2; exit 2; }
episodes=$1 shards=$2 out=$3
shift 3
models=("$@")
[[ "$shards" =~ ^[1-9][0-9]*$ ]] || { echo "eval-array.sh: SHARDS must be a positive integer, not '$shards'" >&2; exit 2; }
tasks=$((${#models[@]} * shards))
task=${SLURM_ARRAY_TASK_ID:-}
[[ "$task" =~ ^[0-9]+$ ]] || {
  echo "eval-array.sh: SLURM_ARRAY_TASK_ID is '${task}': run as a job array (sbatch --array=0-$((tasks - 1)))" >&2
  exit 2
}
if [ "$task" -ge "$tasks" ]; then
  echo "eval-array.sh: task $task, but ${#models[@]} models x $shards shards make tasks 0-$((tasks - 1)) (sbatch --array=0-$((tasks - 1)))" >&2
  exit 2
fi
if [ -n "${SLURM_ARRAY_TASK_MAX:-}" ] && [ "$SLURM_ARRAY_TASK_MAX" -ne $((tasks - 1)) ]; then
  echo "eval-array.sh: warning: the array ends at task $SLURM_ARRAY_TASK_MAX, but ${#models[@]} models x $shards shards need tasks 0-$((tasks - 1))" >&2
fi
bin=${FSH_BIN:+$FSH_BIN/}
threads=${FSH_THREADS:-${SLURM_CPUS_PER_TASK:-0}}
dataset=()
[ -n "${FSH_DATASET:-}" ] && dataset=(--dataset "$FSH_DATASET")

i=$((task / shards))
shard=$((task % shards))
model=${models[$i]}
name=$(basename "$model" .h5)
dir=$out/$i-$name
mkdir -p "$dir"
part=$dir/part.$shard
echo "eval-array.sh: task $task: $model, shard $shard/$shards -> $part.*" >&2
"${bin}fsh-adapt" -m "$model" -e "$episodes" "${dataset[@]}" --shard "$shard/$shards" \
  --threads "$threads" -q -o "$part.h5"
"${bin}fsh-eval" -a "$part.h5" -e "$episodes" "${dataset[@]}" --shard "$shard/$shards" \
  --threads "$threads" --json -o "$part.json" --predictions "$part.tsv"
