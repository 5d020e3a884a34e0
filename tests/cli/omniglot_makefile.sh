#!/bin/bash
# share/fsh/examples/omniglot.mk on stand-in archives: synthesized glyphs (fsh-episodes synth,
# 105x105, nothing of Omniglot) zipped in the layout of images_background.zip and
# images_evaluation.zip, with class lists in the Vinyals format (Alphabet/character/rotDDD).
# Budgets in episodes, so the run is the same on every machine. make -j2 runs every step to the
# results table (every method on every configuration, fsh-bench agreeing with fsh-eval); then
# nothing is out of date; a touched model redoes only its adaptations, evaluations, the bench
# and the table (make -n, then the partial run itself); a failing step leaves no target; a
# missing archive says where to get it; fsh-bench disagreeing with fsh-eval fails the table.
set -u
src=${FSH_SOURCE_DIR:?FSH_SOURCE_DIR: the source tree}
mk=$src/share/fsh/examples/omniglot.mk
for tool in make zip; do
  command -v $tool >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d" || exit 1
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }

# Stand-in archives: 4 alphabets of 6 glyphs, 8 drawings each; 3 alphabets as the background
# set (18 characters x 4 rotations = 72 training classes), 1 as the evaluation set (24 test
# classes: enough for 20-way).
fsh-episodes synth --classes 24 --per-group 6 --instances 8 --size 105 --seed 5 -o glyphs.h5 -q ||
  die synth
fsh-episodes export glyphs.h5 -o tree -q || die export
mkdir -p data/images_background data/images_evaluation lists
mv tree/alphabet00 tree/alphabet01 tree/alphabet02 data/images_background/
mv tree/alphabet03 data/images_evaluation/
for set in background evaluation; do
  (cd data && zip -qr "images_$set.zip" "images_$set" && rm -r "images_$set") || die "zip $set"
done
for g in 00 01 02 03; do
  for c in 00 01 02 03 04 05; do
    for r in 000 090 180 270; do echo "alphabet$g/glyph$c/rot$r"; done
  done
done >all.txt
head -n 72 all.txt >lists/trainval.txt
tail -n 24 all.txt >lists/test.txt

vars=(DATA=data OUT=run CLASSES=lists MAX_EPISODES=2 COUNT=3 QUERIES=3 TRAIN_WAY=20
  TRAIN_QUERY=2 "BENCH_FLAGS=--timing-episodes 1 --train-timing 0 --kernel-seconds 0.01")
m() { make -f "$mk" "${vars[@]}" "$@"; }

# ---- the whole protocol ---------------------------------------------------------------------
m -j2 >make.out 2>&1 || die "make -j2: $(tail -20 make.out)"
tail -n 20 make.out >table.out
for c in "5-way 1-shot" "5-way 5-shot" "20-way 1-shot"; do
  grep -q "^$c *protonet *[0-9.]*% ± [0-9.]*% *(reference) .* 2 episodes" table.out ||
    die "no protonet row for $c: $(cat table.out)"
done
[ "$(grep -c '^ *hypernet .* pp ' table.out)" = 3 ] || die "hypernet rows: $(cat table.out)"
[ "$(grep -c '^ *maml .* pp ' table.out)" = 3 ] || die "maml rows: $(cat table.out)"
grep -q "^5-way 1-shot *protonet .* 98.8%\$" table.out || die "ProtoNet's published 5w1s: $(cat table.out)"
grep -q "^ *maml .* 95.8%\$" table.out || die "MAML's published 20w1s: $(cat table.out)"
grep -q "fsh-bench, scoring the same episodes, gives the same accuracies" table.out ||
  die "the bench check: $(cat table.out)"
cmp -s run/results.txt <(tail -n "$(wc -l <run/results.txt)" make.out) || die "make did not print results.txt"
for f in omniglot.h5 omniglot-vinyals.h5 models/protonet-warm.h5 models/protonet.h5 \
  models/hypernet.h5 models/maml-5w.h5 models/maml-20w.h5 bench/bench.csv bench/bench.md; do
  [ -f "run/$f" ] || die "run/$f missing"
done
for p in protonet hypernet maml; do
  for c in 5w1s 5w5s 20w1s; do
    [ -f "run/adapted/$p-$c.h5" ] && [ -f "run/eval/$p-$c.json" ] && [ -f "run/eval/$p-$c.tsv" ] ||
      die "$p-$c: adapted or evaluation missing"
  done
done
# The MAML models were trained at their way counts; the warm start was continued by protonet.
fsh-episodes info run/models/maml-20w.h5 | grep -q "20-way" || die "maml-20w is not 20-way"
[ -n "$(find run -name '*.training.h5' -o -name '*.tmp' -o -name 'bench.tmp')" ] &&
  die "temporaries left: $(find run -name '*.training.h5' -o -name '*.tmp')"

# ---- nothing to do; then a touched model redoes only what depends on it ----------------------
m -q run/results.txt || die "make -q: not up to date after a complete run"
[ -z "$(m -n | grep fsh-)" ] || die "make -n after a complete run: $(m -n)"
sleep 1  # a later modification time on every file system
touch run/models/hypernet.h5
m -n >plan.out 2>&1
[ "$(grep -c '^fsh-adapt -m run/models/hypernet.h5 ' plan.out)" = 3 ] ||
  die "plan: not the 3 hypernet adaptations: $(cat plan.out)"
[ "$(grep -c '^fsh-eval -a run/adapted/hypernet-' plan.out)" = 3 ] ||
  die "plan: not the 3 hypernet evaluations: $(cat plan.out)"
[ "$(grep -c '^fsh-bench ' plan.out)" = 1 ] && grep -q 'omniglot-results.sh' plan.out ||
  die "plan: no bench or results: $(cat plan.out)"
[ "$(grep -c '^fsh-' plan.out)" = 7 ] || die "plan: more than the hypernet's steps: $(cat plan.out)"
touch marker
sleep 1
m -j2 >partial.out 2>&1 || die "partial make: $(tail partial.out)"
[ "$(find run/adapted run/eval -newer marker -name 'hypernet-*' | wc -l)" = 9 ] ||
  die "partial run: hypernet's files not all redone"
[ -z "$(find run -newer marker -name '*.h5' ! -name 'hypernet-*')" ] ||
  die "partial run redid more: $(find run -newer marker -name '*.h5' ! -name 'hypernet-*')"
m -q run/results.txt || die "make -q after the partial run"

# ---- failures ----------------------------------------------------------------------------------
# A failing step (a class list naming a class the data lacks) leaves no target behind.
mkdir -p bad
cp lists/test.txt bad/test.txt
{ cat lists/trainval.txt; echo "alphabet09/glyph00/rot000"; } >bad/trainval.txt
m OUT=run2 CLASSES=bad split >bad.out 2>&1 && die "split with an unknown class succeeded"
grep -q "alphabet09/glyph00" bad.out || die "split's message does not name the class: $(cat bad.out)"
[ -e run2/omniglot-vinyals.h5 ] && die "a failed split left run2/omniglot-vinyals.h5"
[ "$(ls -A run2)" = omniglot.h5 ] || die "a failed split left something behind: $(ls -A run2)"
# A missing archive: where to get it.
mkdir -p empty
m DATA=empty OUT=run3 import >missing.out 2>&1 && die "import without archives succeeded"
grep -q "empty/images_background.zip is missing: download .* github.com/brendenlake/omniglot" missing.out ||
  die "missing archive message: $(cat missing.out)"
# No DATA at all.
make -f "$mk" OUT=run3 >nodata.out 2>&1 && die "make without DATA succeeded"
grep -q "DATA is not set" nodata.out || die "no-DATA message: $(cat nodata.out)"
[ -e run3 ] && die "run3 was made"
# fsh-bench disagreeing with fsh-eval (a changed accuracy in bench.csv) fails the table.
awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "accuracy") a = i }
  NR > 1 && $0 ~ /,5w5s,/ && $0 ~ /,maml,/ { $a = $a + 0.01 } 1' run/bench/bench.csv >bench.csv &&
  mv bench.csv run/bench/bench.csv
m results >mismatch.out 2>&1 && die "results with a changed bench accuracy succeeded"
grep -q "^ *maml .*MISMATCH: fsh-bench" mismatch.out || die "no MISMATCH row: $(cat mismatch.out)"
[ -e run/results.txt.tmp ] && die "results.txt.tmp left behind"
exit $fail
