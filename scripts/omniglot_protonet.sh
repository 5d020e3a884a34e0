#!/usr/bin/env bash
# ProtoNet on full Omniglot with the Vinyals split, the standard protocol: meta-train on the
# trainval classes (1200 characters x 4 rotations), meta-test on the test classes (423 x 4):
# 600 test episodes, 5-way, 15 queries per class, mean ± 95% CI. Training is capped in wall
# time (default 1740 s: within 30 minutes on a 2-core machine).
#
# Usage: scripts/omniglot_protonet.sh SHOT [OUT_DIR]
#   SHOT 1 or 5. Needs FSH_DATA_DIR (a folder holding omniglot/images_background.zip,
#   omniglot/images_evaluation.zip and omniglot/splits/vinyals/{trainval,test}.txt).
# Environment: TRAIN_SECONDS (default 1740), TRAIN_WAY (60), TRAIN_QUERY (5), SEED (1),
#   THREADS (0 = all cores).
set -euo pipefail
shot=${1:?usage: $0 SHOT [OUT_DIR]}
out=${2:-out/omniglot}
data=${FSH_DATA_DIR:?set FSH_DATA_DIR to the folder holding omniglot/}/omniglot
seconds=${TRAIN_SECONDS:-1740}
way=${TRAIN_WAY:-60}
query=${TRAIN_QUERY:-5}
seed=${SEED:-1}
threads=${THREADS:-0}
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
fsh-episodes sample omniglot-vinyals.h5 --part test -N 5 -K "$shot" -Q 15 --count 600 \
  --seed "$seed" -o "test-5w${shot}s.h5"

model="protonet-${way}w${shot}s.h5"
# No validation part: the Vinyals trainval/test protocol has none, and choosing on test is not
# allowed; the last checkpoint is the model.
fsh-train --method protonet --data omniglot-vinyals.h5 --part train -N "$way" -K "$shot" \
  -Q "$query" -n 1000000 --lr 1e-3 --lr-step 2000 --lr-gamma 0.5 --val-part none \
  --max-time "$seconds" --seed "$seed" --threads "$threads" --log "train-${shot}s.csv" \
  -o "$model"
fsh-adapt -m "$model" -e "test-5w${shot}s.h5" -o "adapted-5w${shot}s.h5"
fsh-eval -a "adapted-5w${shot}s.h5" -e "test-5w${shot}s.h5"
fsh-eval -a "adapted-5w${shot}s.h5" -e "test-5w${shot}s.h5" --json >"eval-5w${shot}s.json"
