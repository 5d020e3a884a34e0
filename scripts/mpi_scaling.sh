#!/usr/bin/env bash
# Data-parallel fsh-train: tasks (episodes) per second against the number of processes on this
# machine, the reduction's measured time and bytes per step, and the model of where
# communication would cap the speed-up on a 10 Gbit/s and a 100 Gbit/s network (fsh-train(1),
# SCALING). Built-in data (fsh-episodes synth), a budget in episodes, one thread per process.
#
# Usage: scripts/mpi_scaling.sh [BUILD_DIR]        (default: build)
# Environment: METHOD (protonet), HIDDEN (64), WAY (5), SHOT (1), QUERY (5), META_BATCH (8),
#   EPISODES (48: a multiple of META_BATCH), PROCS ("1 2"), SEED (1).
# Measure on an idle machine: other work on the cores shows up as computing and reducing time
# (the script prints the load average). Needs a build with MPI (fsh-train --version) and mpirun.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bin="$(pwd)/$build/bin"
method=${METHOD:-protonet}
hidden=${HIDDEN:-64}
way=${WAY:-5}
shot=${SHOT:-1}
query=${QUERY:-5}
batch=${META_BATCH:-8}
episodes=${EPISODES:-48}
procs=${PROCS:-1 2}
seed=${SEED:-1}

[ -x "$bin/fsh-train" ] || { echo "mpi_scaling: no $bin/fsh-train (build first)" >&2; exit 2; }
if ! "$bin/fsh-train" --version | grep -q "MPI: Open MPI\|MPI: MPICH\|MPI: Intel"; then
  if "$bin/fsh-train" --version | grep -q "MPI: not built in"; then
    echo "mpi_scaling: $build has no MPI (fsh-train --version); install libopenmpi-dev and rebuild" >&2
    exit 2
  fi
fi
command -v mpirun >/dev/null || { echo "mpi_scaling: mpirun not found (Debian: openmpi-bin)" >&2; exit 2; }
if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
"$bin/fsh-episodes" synth --classes 60 --instances 20 --seed 3 -o "$d/glyphs.h5" -q
"$bin/fsh-episodes" split "$d/glyphs.h5" --by class --fraction 0.8,0.2 -o "$d/split.h5" -q

echo "mpi_scaling: $method, hidden $hidden, $way-way $shot-shot $query-query, meta-batch $batch," \
  "$episodes episodes, 1 thread per process; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
flags=(--method "$method" --data "$d/split.h5" -N "$way" -K "$shot" -Q "$query" --hidden "$hidden"
  --meta-batch "$batch" -n "$episodes" --val-every 0 --checkpoint-every 0 --no-best --seed "$seed"
  --threads 1 --no-provenance)

printf '%-3s %-12s %-9s %-16s %-14s %-15s %s\n' P episodes/s speed-up "compute ms/step" "wait ms/step" "reduce ms/step" "bytes/hop"
rate1=""
for p in $procs; do
  if [ "$p" -eq 1 ]; then
    out=$("$bin/fsh-train" "${flags[@]}" -o "$d/p1.h5" 2>&1)
  else
    out=$(mpirun --oversubscribe --bind-to none -np "$p" "$bin/fsh-train" "${flags[@]}" \
      -o "$d/p$p.h5" 2>&1)
  fi
  rate=$(grep -o '[0-9.]* episodes/s' <<<"$out" | tail -1 | cut -d' ' -f1)
  [ -n "$rate" ] || { echo "mpi_scaling: no rate in the output of P=$p:" >&2; echo "$out" >&2; exit 1; }
  [ -n "$rate1" ] || rate1=$rate
  line=$(grep 'data-parallel over .* per step' <<<"$out" || true)
  compute=$(sed -n 's/.*per step \([0-9.]*\) ms computing.*/\1/p' <<<"$line")
  wait=$(sed -n 's/.* \([0-9.]*\) ms waiting.*/\1/p' <<<"$line")
  reduce=$(sed -n 's/.* \([0-9.]*\) ms reducing.*/\1/p' <<<"$line")
  bytes=$(sed -n 's/.*; \([0-9]*\) bytes per hop.*/\1/p' <<<"$line")
  if [ "$p" -eq 1 ]; then
    compute=$(awk -v r="$rate" -v b="$batch" 'BEGIN { printf "%.3f", 1000 * b / r }')
    wait=0
    reduce=0
  fi
  printf '%-3s %-12s %-9s %-16s %-14s %-15s %s\n' "$p" "$rate" \
    "$(awk -v a="$rate" -v b="$rate1" 'BEGIN { printf "%.2f", a / b }')" "$compute" "$wait" \
    "$reduce" "${bytes:--}"
  [ -n "$bytes" ] && theta_bytes=$bytes
done

# The model (fsh-train(1), SCALING): one step on P processes takes
#   T(P) = Tc / P + Tr(P),   Tr(P) = (8 n + (P - 2) s) / beta  (+ (P + n/s) alpha)
# with Tc the compute time of a whole meta-batch on one process, 4n = the bytes of θ's gradient
# (one hop of the chain carries all of it once; the broadcast of the sum carries it again),
# s = the chain's piece (64 KiB, or 4n when θ is smaller): the pipeline's fill, one piece per
# hop; beta the network's bandwidth; alpha the per-message latency (left out: microseconds).
# Communication caps the speed-up where Tr(P) = Tc / P (the speed-up there is P / 2, and it
# can never pass Tc / Tr):  s P^2 + (8n - 2s) P - Tc beta = 0.  The meta-batch caps it at P = B.
if [ -n "${theta_bytes:-}" ]; then
  tc=$(awk -v r="$rate1" -v b="$batch" 'BEGIN { printf "%.6f", b / r }')
  awk -v tc="$tc" -v bytes="$theta_bytes" -v B="$batch" 'BEGIN {
    s = bytes < 65536 ? bytes : 65536
    printf "model: Tc = %.1f ms per step of %d episodes on one process; theta %d bytes; piece %d bytes\n", 1000 * tc, B, bytes, s
    split("10 100", gbit, " ")
    for (i = 1; i <= 2; ++i) {
      beta = gbit[i] * 1e9 / 8
      a = s; b = 2 * bytes - 2 * s; c = -tc * beta     # s P^2 + (8n - 2s) P - Tc beta = 0
      P = (-b + sqrt(b * b - 4 * a * c)) / (2 * a)
      printf "  %3d Gbit/s: reduction %.3f ms per step at P = 2; communication equals computing at P = %.0f (speed-up %.0f there); the meta-batch caps P at %d\n",
        gbit[i], 1000 * 2 * bytes / beta, P, P / 2, B
    }
  }'
else
  echo "model: needs a run with P >= 2 (PROCS)"
fi
