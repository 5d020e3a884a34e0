#!/usr/bin/env bash
# The main job on the built-in data: sets fsh up (scripts/setup.sh), then runs
# `fsh-bench --quick`: it synthesizes glyph data (28x28, and 84x84 RGB, mini-ImageNet's shape),
# trains every method of this build on a small budget and compares them on the same test
# episodes -- accuracy ± 95% CI, paired differences, adaptation time, meta-training throughput,
# memory, sizes and the kernel rates of this machine. Then, with the files it wrote, the other
# tools: ProtoNet's per-query predictions on the 5-way 1-shot episodes (fsh-eval) and a montage
# of the episode it got most wrong (fsh-episodes show --predictions).
# Outputs go to demo/: bench.md (also printed), bench.csv, bench.json, bench.svg, the data,
# episodes and models (data/, episodes/, models/, rgb/), predictions-5w1s.tsv, errors.png.
# Arguments are passed to fsh-bench (e.g. --no-rgb, --train-seconds 60).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
export PATH="$PWD/build/bin:$PATH"
rm -rf demo
set -x
fsh-bench --quick -o demo "$@"
fsh-eval -m demo/models/protonet.h5 -e demo/episodes/5w1s.h5 --predictions demo/predictions-5w1s.tsv
# The episode with the most wrong queries (column 6 of the TSV: correct).
worst=$(awk -F'\t' 'NR > 1 { w[$1] += 1 - $6 } END { b = 0; for (e in w) if (w[e] > w[b]) b = e; print b }' \
  demo/predictions-5w1s.tsv)
fsh-episodes show demo/episodes/5w1s.h5 --predictions demo/predictions-5w1s.tsv \
  --episode "$worst" --scale 3 -o demo/errors.png
