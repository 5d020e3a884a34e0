#!/usr/bin/env bash
# One seed, one output: sampling (and splitting) twice with the same seed gives byte-identical
# files, to a file or through stdout; another seed gives different episodes. Thread count does
# not enter: each episode has its own RNG stream (checked in tests/test_episodes.cpp).
set -euo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
/usr/bin/python3 "$FSH_SOURCE_DIR/tests/cli/make_test_data.py" . || exit $?

fsh-episodes split good.h5 --by class --fraction 0.5,0.5 --rotations 4 --seed 3 -q -o split.h5
mv split.h5 split1.h5
fsh-episodes split good.h5 --by class --fraction 0.5,0.5 --rotations 4 --seed 3 -q -o split.h5
cmp split1.h5 split.h5
echo "ok   split twice, seed 3: identical"

sample() { fsh-episodes sample split.h5 --part test -N 5 -K 2 -Q 3 --count 50 "$@"; }
sample --seed 1 -o ep.h5 && mv ep.h5 ep1.h5
sample --seed 1 -o ep.h5
cmp ep1.h5 ep.h5
echo "ok   sample twice, seed 1: identical"
sample --seed 1 --embed -o ep.h5 && mv ep.h5 emb1.h5
sample --seed 1 --embed -o ep.h5
cmp emb1.h5 ep.h5
echo "ok   sample --embed twice, seed 1: identical"
sample --seed 1 -o - > a.h5
sample --seed 1 -o - > b.h5
cmp a.h5 b.h5
echo "ok   sample to stdout twice, seed 1: identical"

# Another seed: the episode arrays differ (not just the seed attribute).
sample --seed 2 -o ep.h5
if /usr/bin/python3 - ep1.h5 ep.h5 <<'PY'
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:3])
sys.exit(0 if all(np.array_equal(a[k][()], b[k][()]) for k in ("support", "query", "classes")) else 1)
PY
then
  echo "FAIL: seeds 1 and 2 gave the same episodes" >&2
  exit 1
fi
if cmp -s ep1.h5 ep.h5; then echo "FAIL: seeds 1 and 2 gave identical files" >&2; exit 1; fi
echo "ok   seed 2 differs from seed 1"
