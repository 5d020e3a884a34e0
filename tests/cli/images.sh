#!/usr/bin/env bash
# Few-shot on image files, end to end with the tools: episodes exported as PNG folders
# (fsh-episodes export), adapted from the folder (fsh-adapt --support) and classified
# (fsh-eval --images). Checks: the folder classifier scores every query exactly as the episode
# classifier does; the TSV's predictions are fsh-eval's episode predictions; stdin lists,
# --top, --json, --keep-going; inverted files are refused naming --invert, and --invert gives
# the same classifier; bad folders give one line and leave no output; a dataset exported as
# folders imports back to the same fingerprint.
set -u
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d"
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }

fsh-episodes synth --classes 40 --instances 10 --seed 2 -o glyphs.h5 -q || die synth
fsh-episodes split glyphs.h5 --by class --fraction 0.5,0,0.5 -o split.h5 -q || die split
fsh-train --data split.h5 -N 10 -K 1 -Q 5 -n 40 --hidden 16 --val-every 0 -o model.h5 -q ||
  die train
fsh-episodes sample split.h5 --part test -N 4 -K 3 -Q 5 --count 3 --seed 9 -o test.h5 -q ||
  die sample
fsh-adapt -m model.h5 -e test.h5 -o all.h5 -q || die "adapt episodes"
fsh-eval -a all.h5 -e test.h5 --predictions pred.tsv -q >/dev/null || die "eval episodes"

# Folder names are "<episode class>-<dataset class with / as _>"; the episode file's names are
# the dataset's. Rows of the two TSVs agree once names are mapped.
for e in 0 1 2; do
  fsh-episodes export test.h5 --episode $e -o ep$e || die "export episode $e"
  [ "$(ls ep$e/support | wc -l)" = 4 ] || die "episode $e: 4 class folders expected"
  [ "$(find ep$e/support -name '*.png' | wc -l)" = 12 ] || die "episode $e: 12 support files"
  fsh-adapt -m model.h5 --support ep$e/support -o one$e.h5 -q || die "adapt folder $e"
  fsh-eval -a one$e.h5 --images ep$e/query --top 4 >one$e.tsv || die "eval images $e"
  fsh-eval -a all.h5 --episode $e --images ep$e/query --top 4 >all$e.tsv || die "eval all $e"
  [ "$(wc -l <one$e.tsv)" = 21 ] || die "episode $e: 20 rows and a header expected"
  # Names: drop the episode class number, and '_' back to '/' (paths change alike in both).
  sed 's/\t[0-9]-/\t/g; s/_/\//g' one$e.tsv >a.tsv
  sed 's/_/\//g' all$e.tsv >b.tsv
  cmp -s a.tsv b.tsv || die "episode $e: folder and episode classifiers score differently"
  # Predictions: the class number leading each folder name, in query order (sorted paths are
  # class-major, as the episode's queries are).
  tsv=$(awk -F'\t' 'NR > 1 { split($2, p, "-"); printf "%s ", p[1] }' one$e.tsv)
  ref=$(awk -F'\t' -v e=$e '$1 == e { printf "%s ", $5 }' pred.tsv)
  [ -n "$ref" ] && [ "$tsv" = "$ref" ] || die "episode $e: TSV predictions '$tsv' != fsh-eval's '$ref'"
done
grep -q '^path	class	probability	class_2	probability_2	class_3	probability_3	class_4	probability_4$' one0.tsv ||
  die "--top 4 header"
awk -F'\t' 'NR > 1 { s = $3 + $5 + $7 + $9; if (s < 0.99999 || s > 1.00001) bad = 1;
  if ($3 < $5 || $5 < $7 || $7 < $9) bad = 1 } END { exit bad }' one0.tsv ||
  die "top-4 probabilities of 4 classes must sum to 1 and be ranked"

# Paths on stdin, in their order; --json.
ls -r ep0/query/*/*.png | fsh-eval -a one0.h5 --images - >stdin.tsv || die "eval from stdin"
[ "$(tail -n +2 stdin.tsv | cut -f1)" = "$(ls -r ep0/query/*/*.png)" ] || die "stdin order kept"
[ "$(tail -n +2 stdin.tsv | sort)" = "$(fsh-eval -a one0.h5 --images ep0/query | tail -n +2 | sort)" ] ||
  die "stdin list and folder give different rows"
fsh-eval -a one0.h5 --images ep0/query/0-*/0.png --json >one.json || die "eval --json"
if [ -x /usr/bin/python3 ]; then
  /usr/bin/python3 -c 'import json, sys; j = json.load(open("one.json"));
assert len(j["classes"]) == 4 and len(j["images"]) == 1 and j["skipped"] == []
assert j["images"][0]["class"] in j["classes"]' || die "--json output"
fi

# Unreadable images: an error naming the file, nothing on stdout; --keep-going lists and skips.
printf 'not an image' >broken.png
out=$(fsh-eval -a one0.h5 --images ep0/query broken.png 2>err.txt) && die "broken image accepted"
[ -z "$out" ] || die "output printed before the error"
grep -q "broken.png: not a PNG or JPEG" err.txt || die "error does not name broken.png: $(cat err.txt)"
fsh-eval -a one0.h5 --images ep0/query broken.png missing.png --keep-going >kg.tsv 2>err.txt
[ $? = 3 ] || die "--keep-going with skipped images: exit status 3 expected"
[ "$(wc -l <kg.tsv)" = 21 ] || die "--keep-going: the 20 readable images expected"
grep -q "skipped: broken.png" err.txt && grep -q "skipped: missing.png: no such file" err.txt ||
  die "--keep-going does not list the skipped files: $(cat err.txt)"
fsh-eval -a all.h5 --images ep0/query 2>err.txt && die "several classifiers without --episode"
grep -q -- "--episode" err.txt || die "message should name --episode"

# Dark-on-light files: refused naming --invert; with --invert, the same classifier.
fsh-episodes import folder ep0/support --invert -o dark.h5 -q || die "import --invert"
fsh-episodes export dark.h5 --as-stored -o dark || die "export --as-stored"
fsh-adapt -m model.h5 --support dark -o x.h5 -q 2>err.txt && die "inverted files accepted"
grep -q -- "--invert" err.txt || die "polarity message lacks --invert: $(cat err.txt)"
[ -e x.h5 ] && die "x.h5 left behind"
fsh-adapt -m model.h5 --support dark --invert -o inv.h5 -q || die "adapt --invert"
fsh-eval -a inv.h5 --images ep0/query --no-invert --top 4 >inv.tsv
fsh-eval -a one0.h5 --images ep0/query --top 4 >one.tsv
cmp -s inv.tsv one.tsv || die "--invert on inverted files should give the same classifier"

# Bad folders: one line naming the folder or file, exit 2 or 1, no output left behind.
check() {  # check EXPECTED_TEXT FOLDER
  local err
  err=$(fsh-adapt -m model.h5 --support "$2" -o out.h5 2>&1 >/dev/null) && {
    die "accepted: $2"
    return
  }
  [ "$(wc -l <<<"$err")" = 1 ] || die "more than one line for $2: $err"
  grep -q -- "$1" <<<"$err" || die "message for $2 lacks '$1': $err"
  [ -e out.h5 ] && die "out.h5 left behind for $2"
  ls | grep -q '\.tmp' && die "temporary file left behind for $2"
  true
}
cp -r ep0/support empty && mkdir empty/9-none
check "empty/9-none: empty class folder" empty
mkdir one && cp -r ep0/support/0-* one/
check "only one class folder" one
cp -r ep0/support text && printf 'x' >"$(ls -d text/1-*)"/notes.txt
check "notes.txt: not a PNG or JPEG image" text
fsh-episodes synth --classes 2 --instances 1 --size 32 -o big.h5 -q
fsh-episodes export big.h5 -o big -q
cp -r ep0/support mixed && cp big/alphabet00/glyph00/0.png "$(ls -d mixed/2-*)"/0.png
check "images of different sizes" mixed
check "nonexistent: no such file" nonexistent

# A dataset exported as class folders imports back to the same images, labels and names.
fsh-episodes export glyphs.h5 -o tree || die "export dataset"
fsh-episodes import folder tree -o back.h5 -q || die "import exported tree"
fp() { fsh-episodes info --json "$1" | grep '"fingerprint"'; }
[ "$(fp back.h5)" = "$(fp glyphs.h5)" ] || die "exported tree imports to another dataset"
fsh-episodes export glyphs.h5 -o tree 2>err.txt && die "export over a non-empty folder"
grep -q "not an empty folder" err.txt || die "export refusal message: $(cat err.txt)"

[ $fail = 0 ] && echo "images: all checks passed"
exit $fail
