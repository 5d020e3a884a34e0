#!/bin/bash
# Data-parallel meta-training on several nodes: fsh-train as one MPI job of P processes (srun in
# a Slurm allocation, or mpirun), which divides each meta-batch among them and writes bit for
# bit the checkpoint one process would (fsh-train(1), DATA-PARALLEL TRAINING and SCALING: P up
# to --meta-batch is useful; MAML's protocol is 32). Needs fsh built with MPI (fsh-train
# --version: "MPI: Open MPI ...") and the data and checkpoint on a file system every node sees.
#
#   sbatch train-mpi.sh CHECKPOINT FSH-TRAIN-OPTION...       e.g.
#   sbatch --nodes=4 train-mpi.sh maml.h5 --method maml --data omniglot-vinyals.h5 -N 5 -K 1 \
#     -Q 15 --meta-batch 32 -n 1920000 --val-part none --max-time 36000
#
# A new run (CHECKPOINT missing): fsh-train FSH-TRAIN-OPTION... -o CHECKPOINT. Otherwise it
# continues CHECKPOINT (fsh-train --resume CHECKPOINT -o CHECKPOINT, with FSH_RESUME_ARGS such
# as "-n 40000 --max-time 3600"; the options given are then ignored: the checkpoint holds the
# configuration), exactly as the straight run would have gone on, whatever the number of
# processes. So the same sbatch line, submitted again, continues a run that a time limit
# stopped: at --signal's warning (below, 2 minutes before the limit) every process receives
# SIGTERM, all stop after the same step, process 0 writes the checkpoint, and the job ends with
# exit status 143.
#
# Environment:
#   FSH_LAUNCHER     the MPI launcher and its options (default: srun inside a Slurm job, else
#                    mpirun -np FSH_NP); e.g. "srun --mpi=pmix" where Slurm needs it
#   FSH_NP           processes for mpirun outside Slurm (default 2)
#   FSH_THREADS      worker threads per process (default: SLURM_CPUS_PER_TASK, the job's
#                    --cpus-per-task; outside Slurm, fsh-train's default: a share of the cores)
#   FSH_RESUME_ARGS  extra fsh-train options when continuing
#   FSH_BIN          folder of the fsh tools (default: PATH)
#
#SBATCH --job-name=fsh-train
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=4
#SBATCH --cpus-per-task=2
#SBATCH --time=04:00:00
#SBATCH --signal=TERM@120
#SBATCH --output=fsh-train-%j.log
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: train-mpi.sh CHECKPOINT FSH-TRAIN-OPTION..." >&2; exit 2; }
checkpoint=$1
shift
bin=${FSH_BIN:+$FSH_BIN/}
if [ -n "${FSH_LAUNCHER:-}" ]; then
  read -r -a launcher <<<"$FSH_LAUNCHER"
elif [ -n "${SLURM_JOB_ID:-}" ] && command -v srun >/dev/null; then
  # Slurm 22.05 and later: srun no longer inherits the job's --cpus-per-task.
  launcher=(srun ${SLURM_CPUS_PER_TASK:+--cpus-per-task=$SLURM_CPUS_PER_TASK})
else
  launcher=(mpirun -np "${FSH_NP:-2}")
fi
# Without either, fsh-train's default: each process takes its share of its node's cores.
threads=()
t=${FSH_THREADS:-${SLURM_CPUS_PER_TASK:-}}
[ -n "$t" ] && threads=(--threads "$t")
for a in "$@"; do  # a --threads among the options wins
  case $a in --threads | --threads=*) threads=() ;; esac
done
if ! "${bin}fsh-train" --version | grep -q '^ *MPI: [A-Z]'; then
  echo "train-mpi.sh: $("${bin}fsh-train" --version | grep '^ *MPI:' | sed 's/^ *//') (fsh-train --version): build fsh with MPI (libopenmpi-dev, -DFSH_MPI=ON)" >&2
  exit 2
fi
if [ -f "$checkpoint" ]; then
  read -r -a extra <<<"${FSH_RESUME_ARGS:-}"
  [ $# -eq 0 ] || echo "train-mpi.sh: $checkpoint exists: continuing it; its configuration replaces the options given" >&2
  cmd=("${bin}fsh-train" --resume "$checkpoint" "${extra[@]}" "${threads[@]}" -o "$checkpoint")
else
  [ $# -gt 0 ] || { echo "train-mpi.sh: $checkpoint does not exist: give the fsh-train options of a new run" >&2; exit 2; }
  cmd=("${bin}fsh-train" "$@" "${threads[@]}" -o "$checkpoint")
fi
echo "train-mpi.sh: ${launcher[*]} ${cmd[*]}" >&2
status=0
"${launcher[@]}" "${cmd[@]}" || status=$?
if [ "$status" -eq 143 ] || [ "$status" -eq 130 ]; then
  echo "train-mpi.sh: stopped by a signal; $checkpoint holds the last step: submit the same command again to continue" >&2
fi
exit "$status"
