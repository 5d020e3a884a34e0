#!/usr/bin/env bash
# MAML on full Omniglot with the Vinyals split, the protocol of scripts/omniglot_protonet.sh:
# meta-train on the trainval classes (1200 characters x 4 rotations), meta-test on the test
# classes (423 x 4): 600 test episodes, 5-way, 15 queries per class, mean ± 95% CI. MAML's own
# protocol (fsh-maml(7)): 5-way training episodes, meta-batch 32, Adam 1e-3 constant, inner lr
# 0.4, 1 inner step in training and 3 in adaptation, exact second order (FIRST_ORDER=1: FOMAML).
#
# Training is capped in wall time (default 1740 s: within 30 minutes on a 2-core machine) and
# runs in chunks of CHUNK_SECONDS: after each chunk the checkpoint is scored on the test
# episodes (outside the training time; --resume continues bit for bit as if straight), so
# curve-*.csv holds the learning curve: training minutes, episodes, test accuracy, 95% CI.
# Nothing is selected on the test episodes: the model is the last checkpoint.
#
# Usage: scripts/omniglot_maml.sh SHOT [OUT_DIR]
#   SHOT 1 or 5. Needs FSH_DATA_DIR (a folder holding omniglot/images_background.zip,
#   omniglot/images_evaluation.zip and omniglot/splits/vinyals/{trainval,test}.txt).
# Environment: TRAIN_SECONDS (1740), CHUNK_SECONDS (300), FIRST_ORDER (0), BN (support or
#   transductive), TRAIN_QUERY (5), META_BATCH (32), INNER_LR (0.4), INNER_STEPS (1),
#   ADAPT_STEPS (3), LR (0.001), LR_STEP (0: constant; else halve the rate every LR_STEP
#   episodes), SEED (1), THREADS (0 = all cores), TEST_EPISODES (600; fewer
#   only to try the script out).
set -euo pipefail
shot=${1:?usage: $0 SHOT [OUT_DIR]}
out=${2:-out/omniglot}
data=${FSH_DATA_DIR:?set FSH_DATA_DIR to the folder holding omniglot/}/omniglot
seconds=${TRAIN_SECONDS:-1740}
chunk=${CHUNK_SECONDS:-300}
first_order=${FIRST_ORDER:-0}
bn=${BN:-support}
query=${TRAIN_QUERY:-5}
meta_batch=${META_BATCH:-32}
inner_lr=${INNER_LR:-0.4}
inner_steps=${INNER_STEPS:-1}
adapt_steps=${ADAPT_STEPS:-3}
lr=${LR:-0.001}
lr_step=${LR_STEP:-0}
seed=${SEED:-1}
threads=${THREADS:-0}
test_episodes=${TEST_EPISODES:-600}
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$root/build/bin:$PATH"
mkdir -p "$out"
cd "$out"

if [ ! -f omniglot-vinyals.h5 ]; then
  fsh-episodes import omniglot "$data/images_background.zip" "$data/images_evaluation.zip" \
    -o omniglot.h5
  fsh-episodes split omniglot.h5 --classes \
    "trainval=$data/splits/vinyals/trainval.txt,test=$data/splits/vinyals/test.txt" \
    -o omniglot-vinyals.h5
fi
test="test-5w${shot}s.h5"
fsh-episodes sample omniglot-vinyals.h5 --part test -N 5 -K "$shot" -Q 15 --count "$test_episodes" \
  --seed "$seed" -o "$test"

order=second
order_flag=()
if [ "$first_order" = 1 ]; then
  order=first
  order_flag=(--first-order)
fi
tag="maml-${order}-${bn}-5w${shot}s"
model="$tag.h5"
curve="curve-$tag.csv"
rm -f "$model" "$curve" "train-$tag.csv"
echo "minutes,episodes,accuracy,ci95" >"$curve"

# json_field NAME < JSON: the number after "NAME":
json_field() { sed "s/.*\"$1\":\([-0-9.e]*\).*/\1/"; }

# Trains in chunks; after each, scores the checkpoint on the test episodes. The budget counts the
# training time the checkpoint records (each chunk may overrun by one meta-batch).
done_seconds=0
while [ "$done_seconds" -lt "$seconds" ]; do
  step=$((seconds - done_seconds < chunk ? seconds - done_seconds : chunk))
  if [ "$done_seconds" -eq 0 ]; then
    # No validation part: the Vinyals trainval/test protocol has none.
    fsh-train --method maml --data omniglot-vinyals.h5 --part train -N 5 -K "$shot" \
      -Q "$query" -n 100000000 --meta-batch "$meta_batch" --lr "$lr" --lr-step "$lr_step" \
      --lr-gamma 0.5 \
      --inner-lr "$inner_lr" --inner-steps "$inner_steps" --adapt-steps "$adapt_steps" \
      "${order_flag[@]}" --bn "$bn" --val-part none --checkpoint-every 0 \
      --max-time "$step" --seed "$seed" --threads "$threads" --log "train-$tag.csv" \
      --no-best -o "$model"
  else
    fsh-train --resume "$model" --max-time "$step" --threads "$threads" \
      --log "train-$tag.csv" --no-best -o "$model"
  fi
  # The curve point: the model adapted in memory (fsh-eval -m; the same scores as the adapted
  # file, without writing 600 fine-tuned networks each time).
  ev=$(fsh-eval -m "$model" -e "$test" --threads "$threads" --json)
  info=$(fsh-episodes info "$model")
  episodes=$(sed -n 's/^ *trained *\([0-9]*\) of.*/\1/p' <<<"$info")
  trained=$(sed -n 's/^ *train time *\([0-9.]*\) s.*/\1/p' <<<"$info")  # actual, not requested
  printf "%s,%s,%s,%s\n" "$(awk -v s="$trained" 'BEGIN { printf "%.1f", s / 60 }')" "$episodes" \
    "$(json_field accuracy <<<"$ev")" "$(json_field ci95 <<<"$ev")" >>"$curve"
  tail -n 1 "$curve"
  done_seconds=$(awk -v s="$trained" 'BEGIN { printf "%d", s + 0.5 }')
done
# The model as fsh-adapt writes it (each episode's fine-tuned, folded network), scored by
# fsh-eval from the file alone.
fsh-adapt -m "$model" -e "$test" -o "adapted-$tag.h5" -q --threads "$threads"
fsh-eval -a "adapted-$tag.h5" -e "$test"
fsh-eval -a "adapted-$tag.h5" -e "$test" --json >"eval-$tag.json"
