#!/usr/bin/env bash
# The main job on the built-in data: sets fsh up (scripts/setup.sh), then runs the whole
# pipeline on a synthetic glyph dataset -- synthesize, split classes by alphabet (with
# rotations), sample 600 test episodes, meta-train ProtoNet with validation, adapt to every
# test episode, score them -- and draws one episode as a PNG. Outputs go to demo/.
# Environment: DEMO_EPISODES (training episodes, default 1500).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
export PATH="$PWD/build/bin:$PATH"
rm -rf demo
mkdir -p demo
set -x
fsh-episodes synth --classes 400 --seed 1 -o demo/glyphs.h5
fsh-episodes split demo/glyphs.h5 --by group --fraction 0.7,0.1,0.2 --rotations 4 --seed 1 \
  -o demo/split.h5
fsh-episodes sample demo/split.h5 --part test -N 5 -K 1 -Q 15 --count 600 --seed 1 \
  -o demo/test-5w1s.h5
fsh-episodes info demo/test-5w1s.h5
fsh-episodes show demo/test-5w1s.h5 --episode 0 --scale 2 -o demo/episode0.png
fsh-train --method protonet --data demo/split.h5 -N 20 -K 1 -Q 5 -n "${DEMO_EPISODES:-1500}" \
  --val-every 500 --val-episodes 200 --log demo/train.csv -o demo/protonet.h5
fsh-adapt -m demo/protonet.h5 -e demo/test-5w1s.h5 -o demo/adapted.h5
fsh-eval -a demo/adapted.h5 -e demo/test-5w1s.h5
