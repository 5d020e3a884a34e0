#!/usr/bin/env bash
# Every method on full Omniglot, Vinyals split, compared by fsh-bench on the same test episodes:
# import the two archives, split trainval/test by the Vinyals class lists (1200 characters x 4
# rotations to train on, 423 x 4 to test on), train one model per method for at most
# TRAIN_SECONDS of wall time each (no validation: the protocol has no validation part), then
# fsh-bench on 600 test episodes per configuration (5-way 1-shot, 5-way 5-shot, 20-way 1-shot,
# 15 queries per class), every method on the same episodes. Each method is trained once, with
# 1-shot episodes, and scored on all three configurations.
#
# Usage: scripts/omniglot_bench.sh [OUT_DIR]
#   Needs FSH_DATA_DIR (a folder holding omniglot/images_background.zip,
#   omniglot/images_evaluation.zip and omniglot/splits/vinyals/{trainval,test}.txt).
# Environment:
#   TRAIN_SECONDS  wall-time cap of each method's training (default 1800)
#   METHODS        comma-separated (default: every method of this build, from fsh-bench --help)
#   TRAIN_ARGS_<method>  fsh-train arguments replacing the defaults below for that method, e.g.
#                  TRAIN_ARGS_maml="-N 5 -K 1 -Q 15 --meta-batch 32 --inner-lr 0.4"
#   COUNT (600), CONFIGS (5w1s,5w5s,20w1s), SEED (1), THREADS (0 = all cores)
# Models already in OUT_DIR/models are reused (delete them to retrain).
set -euo pipefail
out=${1:-out/omniglot-bench}
data=${FSH_DATA_DIR:?set FSH_DATA_DIR to the folder holding omniglot/}/omniglot
seconds=${TRAIN_SECONDS:-1800}
count=${COUNT:-600}
configs=${CONFIGS:-5w1s,5w5s,20w1s}
seed=${SEED:-1}
threads=${THREADS:-0}
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$root/build/bin:$PATH"
methods=${METHODS:-$(fsh-bench --help | tr '\n' ' ' |
  sed -n 's/.*Methods in this build: \([^.]*\)\..*/\1/p' | tr -d ' ')}
mkdir -p "$out/models"
cd "$out"

if [ ! -f omniglot-vinyals.h5 ]; then
  fsh-episodes import omniglot "$data/images_background.zip" "$data/images_evaluation.zip" \
    -o omniglot.h5
  fsh-episodes split omniglot.h5 --classes \
    "trainval=$data/splits/vinyals/trainval.txt,test=$data/splits/vinyals/test.txt" \
    -o omniglot-vinyals.h5
fi

# Each method's published training protocol where fsh has one (ProtoNet: Snell et al. 2017,
# 60-way episodes, Adam 1e-3 halved every 2000 episodes; MAML: Finn et al. 2017, 5-way tasks in
# meta-batches of 32, its inner-loop settings at the method's defaults); otherwise 20-way.
default_args() {
  case $1 in
    protonet) echo "-N 60 -K 1 -Q 5 --lr 1e-3 --lr-step 2000 --lr-gamma 0.5" ;;
    maml) echo "-N 5 -K 1 -Q 15 --meta-batch 32 --lr 1e-3 --lr-step 0" ;;
    *) echo "-N 20 -K 1 -Q 5 --lr 1e-3 --lr-step 2000 --lr-gamma 0.5" ;;
  esac
}
models=()
for m in ${methods//,/ }; do
  var="TRAIN_ARGS_$m"
  args=${!var:-$(default_args "$m")}
  if [ ! -f "models/$m.h5" ]; then
    # shellcheck disable=SC2086  # $args is a list of arguments
    fsh-train --method "$m" --data omniglot-vinyals.h5 --part train $args -n 100000000 \
      --val-part none --max-time "$seconds" --seed "$seed" --threads "$threads" \
      --log "models/$m.csv" --no-best -o "models/$m.h5"
  fi
  models+=(-m "models/$m.h5")
done
fsh-bench "${models[@]}" --data omniglot-vinyals.h5 --part test --configs "$configs" \
  --count "$count" --seed "$seed" --threads "$threads" -o bench
