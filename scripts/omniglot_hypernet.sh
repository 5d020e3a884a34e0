#!/usr/bin/env bash
# The hypernetwork (man 7 fsh-hypernet) on full Omniglot with the Vinyals split, with the
# protocol of scripts/omniglot_protonet.sh: meta-train on the trainval classes (1200 characters
# x 4 rotations), meta-test on 600 episodes of the test classes with 15 queries per class, mean
# ± 95% CI. Training is capped in wall time IN ALL: a ProtoNet warm start of WARM_SECONDS, then
# the hypernetwork started from it (--init-from) for the rest of TRAIN_SECONDS.
#
# Usage: scripts/omniglot_hypernet.sh SHOT [OUT_DIR]
#   SHOT 1 or 5. Needs FSH_DATA_DIR (a folder holding omniglot/images_background.zip,
#   omniglot/images_evaluation.zip and omniglot/splits/vinyals/{trainval,test}.txt).
# Environment:
#   TRAIN_SECONDS  training time in all, warm start included (default 1740: within 30 minutes)
#   WARM_SECONDS   ProtoNet warm start (default 1160, two thirds; 0 = hypernetwork from scratch).
#                  The warm-start model is kept in OUT_DIR and reused by later runs with the same
#                  ways, shot, seed and WARM_SECONDS (the ablations share it; each run still
#                  counts it in its TRAIN_SECONDS).
#   VARIANT        full (default), no-film or no-head (the ablations, man 7 fsh-hypernet)
#   HYPER_FLAGS    further fsh-train flags for the hypernetwork (e.g. "--refine-steps 1")
#   LR, LR_STEP    the hypernetwork phase's Adam rate and halving period in episodes (defaults
#                  5e-4 and 1000 after a warm start: about the rate the warm start's schedule
#                  has reached, halved over the phase's ~2000 episodes; 1e-3 and 2000, ProtoNet's
#                  protocol, from scratch)
#   TEST_WAY (5), TRAIN_WAY (60), TRAIN_QUERY (5), SEED (1), THREADS (0 = all cores)
#   PROTONET_ADAPTED  an fsh-adapted ProtoNet file for the same test episodes (e.g. the one
#                  scripts/omniglot_protonet.sh wrote, same SEED): then the paired difference
#                  hypernet − ProtoNet per episode (mean ± 95% CI) is printed too.
set -euo pipefail
shot=${1:?usage: $0 SHOT [OUT_DIR]}
out=${2:-out/omniglot}
data=${FSH_DATA_DIR:?set FSH_DATA_DIR to the folder holding omniglot/}/omniglot
seconds=${TRAIN_SECONDS:-1740}
warm=${WARM_SECONDS:-1160}
variant=${VARIANT:-full}
way=${TRAIN_WAY:-60}
query=${TRAIN_QUERY:-5}
test_way=${TEST_WAY:-5}
seed=${SEED:-1}
threads=${THREADS:-0}
if [ "$warm" -gt 0 ]; then lr=${LR:-5e-4} lr_step=${LR_STEP:-1000}; else lr=${LR:-1e-3} lr_step=${LR_STEP:-2000}; fi
case "$variant" in
  full) flags="" ;;
  no-film) flags="--no-film" ;;
  no-head) flags="--no-head" ;;
  film-from-[0-9]) flags="--film-from ${variant#film-from-}" ;;
  *) echo "$0: VARIANT must be full, no-film, no-head or film-from-B (B: first FiLM'd block)" >&2
     exit 2 ;;
esac
flags="$flags ${HYPER_FLAGS:-}"
if [ "$warm" -ge "$seconds" ]; then
  echo "$0: WARM_SECONDS ($warm) must be below TRAIN_SECONDS ($seconds)" >&2
  exit 2
fi
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
test="test-${test_way}w${shot}s.h5"
# The same command (and seed) as scripts/omniglot_protonet.sh: the same test episodes.
[ -f "$test" ] || fsh-episodes sample omniglot-vinyals.h5 --part test -N "$test_way" -K "$shot" \
  -Q 15 --count 600 --seed "$seed" -o "$test"

# No validation part: the Vinyals trainval/test protocol has none, and choosing on test is not
# allowed; the last checkpoint is the model.
init=()
if [ "$warm" -gt 0 ]; then
  warm_model="protonet-warm-${way}w${shot}s-seed${seed}-${warm}s.h5"
  if [ ! -f "$warm_model" ]; then
    fsh-train --method protonet --data omniglot-vinyals.h5 --part train -N "$way" -K "$shot" \
      -Q "$query" -n 1000000 --lr 1e-3 --lr-step 2000 --lr-gamma 0.5 --val-part none \
      --max-time "$warm" --seed "$seed" --threads "$threads" \
      --log "train-protonet-warm-${shot}s.csv" -o "$warm_model"
  fi
  init=(--init-from "$warm_model")
fi
tag="hypernet-${variant}-${way}w${shot}s"
# shellcheck disable=SC2086  # $flags is a list of flags
fsh-train --method hypernet $flags "${init[@]}" --data omniglot-vinyals.h5 --part train \
  -N "$way" -K "$shot" -Q "$query" -n 1000000 --lr "$lr" --lr-step "$lr_step" --lr-gamma 0.5 \
  --val-part none --max-time $((seconds - warm)) --seed "$seed" --threads "$threads" \
  --log "train-${tag}.csv" -o "$tag.h5"
adapted="adapted-${tag}-${test_way}w${shot}s.h5"
fsh-adapt -m "$tag.h5" -e "$test" -o "$adapted"
fsh-eval -a "$adapted" -e "$test" --predictions "predictions-${tag}-${test_way}w${shot}s.tsv"
fsh-eval -a "$adapted" -e "$test" --json >"eval-${tag}-${test_way}w${shot}s.json"

if [ -n "${PROTONET_ADAPTED:-}" ]; then
  fsh-eval -q -a "$PROTONET_ADAPTED" -e "$test" \
    --predictions "predictions-protonet-${test_way}w${shot}s.tsv" >/dev/null
  # Per episode: accuracy(hypernet) − accuracy(ProtoNet); mean ± 1.96·sd/√n over episodes.
  awk -F'\t' '
    FNR == 1 { file++; next }
    { n[file, $1]++; c[file, $1] += ($4 == $5); ep[$1] = 1 }
    END {
      for (e in ep) { d = c[1, e] / n[1, e] - c[2, e] / n[2, e]; s += d; ss += d * d; k++ }
      m = s / k; sd = sqrt((ss - k * m * m) / (k - 1))
      printf "paired difference hypernet - protonet over %d episodes: %+.2f%% ± %.2f%% (95%% CI)\n",
        k, 100 * m, 100 * 1.96 * sd / sqrt(k)
    }' "predictions-${tag}-${test_way}w${shot}s.tsv" "predictions-protonet-${test_way}w${shot}s.tsv"
fi
