#!/usr/bin/env bash
# The main job on the built-in data: sets fsh up (scripts/setup.sh), synthesizes a glyph
# dataset, splits its classes, samples episodes and summarises them. Outputs go to demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
export PATH="$PWD/build/bin:$PATH"
mkdir -p demo
set -x
fsh-episodes synth --classes 400 --seed 1 -o demo/glyphs.h5
fsh-episodes split demo/glyphs.h5 --fraction 0.7,0.1,0.2 --rotations 4 --seed 1 -o demo/split.h5
fsh-episodes sample demo/split.h5 --part test -N 5 -K 1 -Q 15 --count 600 --seed 1 -o demo/test-5w1s.h5
fsh-episodes info demo/test-5w1s.h5
fsh-episodes show demo/test-5w1s.h5 --episode 0 -o demo/episode0.png
