#!/usr/bin/env bash
# Every method on full Omniglot, Vinyals split, compared by fsh-bench on the same test episodes:
# import the two archives, split trainval/test by the Vinyals class lists (1200 characters x 4
# rotations to train on, 423 x 4 to test on), train one model per method for at most
# TRAIN_SECONDS of wall time each (no validation: the protocol has no validation part), then
# fsh-bench on 600 test episodes per configuration (5-way 1-shot, 5-way 5-shot, 20-way 1-shot,
# 15 queries per class), every method on the same episodes. A method that takes any number of
# ways is trained once, with 1-shot episodes, and scored on all three configurations
# (models/<method>.h5). A method whose head is fixed to one way count (MAML; fsh-bench --help
# lists them) is trained once per way count among the configurations, models/<method>-<N>w.h5
# (maml-5w.h5 and maml-20w.h5 by default), each for TRAIN_SECONDS, and fsh-bench scores each
# configuration with the model of its ways.
#
# Usage: scripts/omniglot_bench.sh [OUT_DIR]
#   Needs FSH_DATA_DIR (a folder holding omniglot/images_background.zip,
#   omniglot/images_evaluation.zip and omniglot/splits/vinyals/{trainval,test}.txt).
# Environment:
#   TRAIN_SECONDS  wall-time cap of each model's training (default 1800)
#   METHODS        comma-separated (default: every method of this build, from fsh-bench --help)
#   TRAIN_ARGS_<method>  fsh-train arguments replacing the defaults below for a method that
#                  takes any number of ways, e.g. TRAIN_ARGS_protonet="-N 30 -K 1 -Q 15"
#   TRAIN_ARGS_<method>_<N>w  the same for the N-way model of a method with a fixed head, e.g.
#                  TRAIN_ARGS_maml_5w="-N 5 -K 1 -Q 15 --meta-batch 32 --inner-lr 0.4"
#                  (they must train N-way: -N N)
#   COUNT (600), CONFIGS (5w1s,5w5s,20w1s), SEED (1), THREADS (0 = all cores)
# Models already in OUT_DIR/models are reused (delete them to retrain). A 5-way MAML model that
# an earlier version of this script wrote as models/maml.h5 is reused if renamed
# models/maml-5w.h5.
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
# The methods whose head is fixed to one way count, and the way counts of the configurations.
fixed=$(fsh-bench --help | tr '\n' ' ' |
  sed -n 's/.*Heads fixed to one way count ([^)]*): \([^.]*\)\..*/\1/p' | tr -d ' ')
ways=$(tr ',' '\n' <<<"$configs" | sed -n 's/^\([0-9]*\)w.*/\1/p' | awk '!seen[$0]++')
# Refused before anything is done: a fixed-head method's arguments are per way count.
for m in ${fixed//,/ }; do
  var="TRAIN_ARGS_$m"
  if [ -n "${!var:-}" ]; then
    echo "omniglot_bench.sh: $m has one model per way count: set TRAIN_ARGS_${m}_<N>w" \
      "(e.g. TRAIN_ARGS_${m}_5w), not $var" >&2
    exit 2
  fi
done
mkdir -p "$out/models"
cd "$out"

if [ ! -f omniglot-vinyals.h5 ]; then
  fsh-episodes import omniglot "$data/images_background.zip" "$data/images_evaluation.zip" \
    -o omniglot.h5
  fsh-episodes split omniglot.h5 --classes \
    "trainval=$data/splits/vinyals/trainval.txt,test=$data/splits/vinyals/test.txt" \
    -o omniglot-vinyals.h5
fi

# Each method's published training protocol where fsh has one; otherwise 20-way.
#   protonet  Snell et al. 2017: 60-way episodes, Adam 1e-3 halved every 2000 episodes.
#   maml 5-way   Finn et al. 2017: tasks in meta-batches of 32, Adam 1e-3 constant, inner
#             learning rate 0.4 (the method's default); 1 inner step in training and 3 when
#             adapting, as the paper (fsh's defaults).
#   maml 20-way  Finn et al. 2017's 20-way Omniglot protocol as far as fsh has it: meta-batches
#             of 16, inner learning rate 0.1, Adam 1e-3 constant. It differs from the paper in
#             the inner steps: 1 in training and 3 when adapting (fsh's defaults), where the
#             paper takes 5 in both (--inner-steps 5 --adapt-steps 5 would follow it, at about
#             five times the cost per episode of exact second-order meta-gradients); and in the
#             queries, 5 per class where the paper's code draws as many as the shots (1).
#   MAML at other way counts: the 5-way recipe with -N N.
default_args() {  # METHOD [WAYS]
  case $1:${2:-} in
    protonet:) echo "-N 60 -K 1 -Q 5 --lr 1e-3 --lr-step 2000 --lr-gamma 0.5" ;;
    maml:20) echo "-N 20 -K 1 -Q 5 --meta-batch 16 --inner-lr 0.1 --lr 1e-3 --lr-step 0" ;;
    maml:*) echo "-N ${2:-5} -K 1 -Q 15 --meta-batch 32 --lr 1e-3 --lr-step 0" ;;
    *:) echo "-N 20 -K 1 -Q 5 --lr 1e-3 --lr-step 2000 --lr-gamma 0.5" ;;
    *) echo "-N $2 -K 1 -Q 5 --lr 1e-3 --lr-step 2000 --lr-gamma 0.5" ;;
  esac
}

train() {  # METHOD NAME ARGS: trains models/NAME.h5 unless it is there
  if [ ! -f "models/$2.h5" ]; then
    # shellcheck disable=SC2086  # $3 is a list of arguments
    fsh-train --method "$1" --data omniglot-vinyals.h5 --part train $3 -n 100000000 \
      --val-part none --max-time "$seconds" --seed "$seed" --threads "$threads" \
      --log "models/$2.csv" --no-best -o "models/$2.h5"
  fi
}
models=()
for m in ${methods//,/ }; do
  if [[ ",$fixed," == *",$m,"* ]]; then
    for n in $ways; do
      var="TRAIN_ARGS_${m}_${n}w"
      train "$m" "$m-${n}w" "${!var:-$(default_args "$m" "$n")}"
      models+=(-m "$m=models/$m-${n}w.h5")
    done
  else
    var="TRAIN_ARGS_$m"
    train "$m" "$m" "${!var:-$(default_args "$m")}"
    models+=(-m "models/$m.h5")
  fi
done
fsh-bench "${models[@]}" --data omniglot-vinyals.h5 --part test --configs "$configs" \
  --count "$count" --seed "$seed" --threads "$threads" -o bench
