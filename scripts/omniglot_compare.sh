#!/usr/bin/env bash
# The comparison in README "Results": ProtoNet, the hypernetwork and MAML on full Omniglot
# (Vinyals split), each trained for 29 minutes of wall time on ONE core, two trainings side by
# side on a 2-core machine, then scored by fsh-bench on the same 600 test episodes of 5-way
# 1-shot, 5-way 5-shot and 20-way 1-shot (15 queries per class), and a second fsh-bench on
# 5-way 1-shot with the ablations (hypernet without FiLM, without generated head; first-order
# MAML). Two hypernetworks: FiLM on every block (the method as man 7 fsh-hypernet defines it)
# and FiLM from block 1 on (--film-from 1: adaptation skips the first block in its second pass). Every model is trained with 1-shot episodes and scored on all configurations its head
# allows; MAML has one model per way count.
#
#   lane A  MAML 5-way second order (scripts/omniglot_maml.sh: its learning curve), then the
#           same first order (FOMAML), then MAML 20-way second order
#   lane B  ProtoNet 60-way, 1160 s (the hypernetwork's warm start) -> the hypernetwork from it
#           for 580 s (scripts/omniglot_hypernet.sh); ProtoNet continued to 1740 s (--resume
#           continues bit for bit, so this is the 1740 s ProtoNet run); the hypernetwork with
#           FiLM from block 1 and the two ablations from the same warm start, 580 s each
# Each lane's trainings run one after another, so every model had one core for its budget.
# Settings chosen before any test episode was scored (none is tuned on them): MAML meta-batch 8
# with Adam 1e-3 halved every 8000 episodes (a 29-minute budget is about 1% of the paper's
# 60,000 meta-iterations of 32 tasks: more, noisier steps), inner lr 0.4 (5-way) and 0.1 with 5
# adaptation steps (20-way), both from Finn et al. 2017; ProtoNet and the hypernetwork as
# scripts/omniglot_protonet.sh and scripts/omniglot_hypernet.sh say.
#
# Usage: scripts/omniglot_compare.sh [OUT_DIR]   (about 100 minutes; FSH_DATA_DIR as for
#   scripts/omniglot_protonet.sh). The training budgets are wall time: on a loaded machine
#   fewer episodes are trained.
set -euo pipefail
out=${1:-out/omniglot-compare}
: "${FSH_DATA_DIR:?set FSH_DATA_DIR to the folder holding omniglot/}"
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$root/build/bin:$PATH"
mkdir -p "$out/models"
out=$(cd "$out" && pwd)
data=$FSH_DATA_DIR/omniglot
if [ ! -f "$out/omniglot-vinyals.h5" ]; then
  (cd "$out" &&
    fsh-episodes import omniglot "$data/images_background.zip" "$data/images_evaluation.zip" \
      -o omniglot.h5 &&
    fsh-episodes split omniglot.h5 --classes \
      "trainval=$data/splits/vinyals/trainval.txt,test=$data/splits/vinyals/test.txt" \
      -o omniglot-vinyals.h5)
fi

lane_a() {
  THREADS=1 META_BATCH=8 LR=0.001 LR_STEP=8000 "$root/scripts/omniglot_maml.sh" 1 "$out"
  THREADS=1 META_BATCH=8 LR=0.001 LR_STEP=8000 FIRST_ORDER=1 \
    "$root/scripts/omniglot_maml.sh" 1 "$out"
  (cd "$out" &&
    fsh-train --method maml --data omniglot-vinyals.h5 --part train -N 20 -K 1 -Q 5 \
      -n 100000000 --meta-batch 8 --lr 1e-3 --lr-step 8000 --lr-gamma 0.5 --inner-lr 0.1 \
      --inner-steps 1 --adapt-steps 5 --bn support --val-part none --checkpoint-every 0 \
      --max-time 1740 --seed 1 --threads 1 --log train-maml-20w1s.csv --no-best \
      -o maml-second-support-20w1s.h5)
}
lane_b() {
  THREADS=1 VARIANT=full "$root/scripts/omniglot_hypernet.sh" 1 "$out"
  (cd "$out" &&
    cp protonet-warm-60w1s-seed1-1160s.h5 protonet-60w1s.h5 &&
    fsh-train --resume protonet-60w1s.h5 --max-time 580 --threads 1 \
      --log train-protonet-60w1s.csv --no-best -o protonet-60w1s.h5)
  THREADS=1 VARIANT=film-from-1 "$root/scripts/omniglot_hypernet.sh" 1 "$out"
  THREADS=1 VARIANT=no-film "$root/scripts/omniglot_hypernet.sh" 1 "$out"
  THREADS=1 VARIANT=no-head "$root/scripts/omniglot_hypernet.sh" 1 "$out"
}
lane_a >"$out/lane-a.log" 2>&1 &
a=$!
lane_b >"$out/lane-b.log" 2>&1 &
b=$!
wait "$a" || { echo "omniglot_compare.sh: lane A failed; see $out/lane-a.log" >&2; exit 1; }
wait "$b" || { echo "omniglot_compare.sh: lane B failed; see $out/lane-b.log" >&2; exit 1; }

cd "$out"
ln -f protonet-60w1s.h5 models/protonet.h5
ln -f hypernet-full-60w1s.h5 models/hypernet.h5
ln -f hypernet-film-from-1-60w1s.h5 models/hypernet-film-from-1.h5
ln -f maml-second-support-5w1s.h5 models/maml-5w.h5
ln -f maml-second-support-20w1s.h5 models/maml-20w.h5
fsh-bench -m models/protonet.h5 -m models/hypernet.h5 \
  -m hypernet-film-from-1=models/hypernet-film-from-1.h5 -m maml=models/maml-5w.h5 \
  -m maml=models/maml-20w.h5 --data omniglot-vinyals.h5 --part test \
  --configs 5w1s,5w5s,20w1s --count 600 --seed 1 --threads 0 --timing-episodes 200 -o bench
fsh-bench -m models/protonet.h5 -m models/hypernet.h5 \
  -m hypernet-no-film=hypernet-no-film-60w1s.h5 -m hypernet-no-head=hypernet-no-head-60w1s.h5 \
  -m maml=models/maml-5w.h5 -m maml-first-order=maml-first-support-5w1s.h5 \
  --data omniglot-vinyals.h5 --part test --configs 5w1s --count 600 --seed 1 --threads 0 \
  --timing-episodes 200 \
  -o ablations
