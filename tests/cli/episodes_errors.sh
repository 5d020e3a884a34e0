#!/usr/bin/env bash
# A table of bad inputs for fsh-episodes split/sample/info: each must exit non-zero with a
# message on stderr whose first line is "fsh-episodes: error: ..." naming the file or value,
# print nothing on stdout, and leave no output file (nor a temporary) behind.
set -u
command -v fsh-episodes >/dev/null || { echo "fsh-episodes not on PATH" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
/usr/bin/python3 "$FSH_SOURCE_DIR/tests/cli/make_test_data.py" . || exit $?
fsh-episodes split good.h5 --fraction 0.5,0.25,0.25 --seed 1 -q -o split.h5 || exit 1
fsh-episodes sample split.h5 --part train -N 2 -K 1 -Q 1 --count 3 -o episodes.h5 || exit 1
head -c 2000 good.h5 > truncated.h5
echo "this is not HDF5" > text.h5
: > empty.h5
# The first half of a valid file followed by zeros: the right size, damaged content.
/usr/bin/python3 - <<'PY'
data = open("good.h5", "rb").read()
open("flipped.h5", "wb").write(data[: len(data) // 2] + bytes(len(data) - len(data) // 2))
PY
printf 'Script0/character01/rot000\nScript7/character01/rot090\n' > badlist.txt

fail=0
n=0
# expect NAME EXPECTED-SUBSTRING STDIN-FILE -- ARGS...
expect() {
  local name=$1 want=$2 input=$3
  shift 4
  n=$((n + 1))
  rm -f out.h5 .out.h5.tmp-*
  local rc=0
  fsh-episodes "$@" <"$input" >stdout.txt 2>stderr.txt || rc=$?
  local first
  first=$(head -n 1 stderr.txt)
  local problems=""
  [ $rc -ne 0 ] || problems+=" exit-status-0"
  [[ "$first" == "fsh-episodes: error: "* ]] || problems+=" no-error-line"
  [[ "$first" == *"$want"* ]] || problems+=" message-lacks[$want]"
  # One line; a bad flag adds the standard "Run '... --help'" hint as a second line.
  local lines
  lines=$(grep -vc "^Run '" stderr.txt)
  [ "$lines" -eq 1 ] || problems+=" $lines-lines"
  [ ! -s stdout.txt ] || problems+=" stdout-not-empty"
  ls -A | grep -q '^out\.h5$\|^\.out\.h5\.tmp' && problems+=" output-left-behind"
  if [ -n "$problems" ]; then
    echo "FAIL $name:$problems" >&2
    echo "  command: fsh-episodes $*" >&2
    sed 's/^/  stderr: /' stderr.txt >&2
    fail=$((fail + 1))
  else
    echo "ok   $name: $first"
  fi
}

# name                 expected in message                                      stdin     args
expect wrong-format    'wrongformat.h5: not an fsh-dataset or fsh-split file (fsh_format is "fsh-model")' /dev/null -- sample wrongformat.h5 -o out.h5
expect episodes-as-data 'episodes.h5: not an fsh-dataset or fsh-split file (fsh_format is "fsh-episodes")' /dev/null -- split episodes.h5 -o out.h5
expect not-fsh         'notfsh.h5: not an fsh file'                              /dev/null -- sample notfsh.h5 -o out.h5
expect newer-version   'newer.h5: this file is fsh-dataset version 2; this build reads up to 1' /dev/null -- sample newer.h5 -o out.h5
expect newer-info      'newer.h5: this file is fsh-dataset version 2; this build reads up to 1' /dev/null -- info newer.h5
expect missing-dataset 'nolabels.h5: missing dataset /labels'                    /dev/null -- sample nolabels.h5 -o out.h5
expect mis-shaped      'badshape.h5: dataset /labels has shape (72, 2); expected (72,)' /dev/null -- split badshape.h5 -o out.h5
expect short-labels    'shortlabels.h5: dataset /labels has shape (5,); expected (72,)' /dev/null -- sample shortlabels.h5 -o out.h5
expect mis-typed       'floatlabels.h5: dataset /labels has type float32; expected an integer type' /dev/null -- sample floatlabels.h5 -o out.h5
expect image-type      'int16images.h5: dataset /images has type int16; expected uint8' /dev/null -- sample int16images.h5 -o out.h5
expect label-range     'badlabel.h5: label 99 of image 0 is outside [0, 12)'     /dev/null -- sample badlabel.h5 -o out.h5
expect truncated       'truncated.h5: truncated or damaged HDF5 file'            /dev/null -- sample truncated.h5 -o out.h5
expect damaged         'flipped.h5: '                                            /dev/null -- sample flipped.h5 -o out.h5
expect non-hdf5        'text.h5: not an HDF5 file'                               /dev/null -- sample text.h5 -o out.h5
expect empty-file      'empty.h5: empty file'                                    /dev/null -- info empty.h5
expect missing-file    'absent.h5: cannot open'                                  /dev/null -- sample absent.h5 -o out.h5
expect stdin-non-hdf5  '<stdin>: not an HDF5 file'                               text.h5   -- info -
expect stdin-empty     '<stdin>: no input'                                       /dev/null -- sample - -o out.h5
expect stdin-truncated '<stdin>: truncated or damaged HDF5 file'                 truncated.h5 -- sample - -o out.h5
expect n-too-large     'good.h5: N = 13 exceeds the 12 classes'                  /dev/null -- sample good.h5 -N 13 -o out.h5
expect n-too-large-part 'split.h5: N = 9 exceeds the 8 classes of part train'    /dev/null -- sample split.h5 --part train -N 9 -Q 1 -o out.h5
expect kq-too-large    'good.h5: class "Script0/character01" has 6 images; K+Q = 7' /dev/null -- sample good.h5 -K 2 -Q 5 -o out.h5
expect within-group-n  'good.h5: within-group episodes need a group with N = 5 classes; the largest, "Script0", has 4' /dev/null -- sample good.h5 -N 5 -K 1 -Q 1 --within-group -o out.h5
expect within-group-part 'split.h5: within-group episodes need a group with N = 5 classes of part train' /dev/null -- sample split.h5 --part train -N 5 -K 1 -Q 1 --within-group -o out.h5
expect part-unsplit    'good.h5: not a split'                                    /dev/null -- sample good.h5 --part test -o out.h5
expect bad-n           '--ways: Value 0 not in range 1 to 100000'                    /dev/null -- sample good.h5 -N 0 -o out.h5
expect bad-k           'Value -1 not in range 1 to 100000'                       /dev/null -- sample good.h5 -K -1 -o out.h5
expect bad-count       '--count: Value 0 not in range'                           /dev/null -- sample good.h5 --count 0 -o out.h5
expect bad-part        '--part: tset not in {all,train,val,test}'                               /dev/null -- sample good.h5 --part tset -o out.h5
expect bad-number      '--ways: Value five not in range' /dev/null -- sample good.h5 -N five -o out.h5
expect bad-rotations   '--rotations: 3 not in {1,4}'                             /dev/null -- split good.h5 --rotations 3 -o out.h5
expect bad-by          '--by: alphabet not in {group,class}'                             /dev/null -- split good.h5 --by alphabet -o out.h5
expect fraction-sum    'fractions must sum to 1 (train + val + test), got 1.1'   /dev/null -- split good.h5 --fraction 0.5,0.6 -o out.h5
expect fraction-word   '--fraction "0.5,half": "half" is not a number'           /dev/null -- split good.h5 --fraction 0.5,half -o out.h5
expect fraction-count  'expected TRAIN,TEST or TRAIN,VAL,TEST'                   /dev/null -- split good.h5 --fraction 1 -o out.h5
expect classes-syntax  '--classes "test.txt": expected PART=FILE'                /dev/null -- split good.h5 --classes test.txt -o out.h5
expect classes-part    'unknown part "dev"'                                      /dev/null -- split good.h5 --classes dev=badlist.txt -o out.h5
expect classes-file    'absent.txt: cannot open class list'                      /dev/null -- split good.h5 --classes test=absent.txt -o out.h5
expect classes-unknown 'badlist.txt:2: class "Script7/character01/rot090" is not in good.h5' /dev/null -- split good.h5 --classes test=badlist.txt -o out.h5
expect classes-and-fraction 'excludes'                                           /dev/null -- split good.h5 --classes test=badlist.txt --fraction 0.5,0.5 -o out.h5
expect out-folder      'nowhere/out.h5: cannot write: folder nowhere does not exist' /dev/null -- sample good.h5 -N 2 -K 1 -Q 1 -o nowhere/out.h5
expect no-output       '--output is required'                                    /dev/null -- sample good.h5
expect unknown-flag    'The following argument was not expected: --bogus'       /dev/null -- sample good.h5 --bogus -o out.h5

# Truncation at any length: every prefix of a valid file (episodes with embedded images, and a
# split) is refused with one error line and exit status 1, never a crash.
fsh-episodes sample split.h5 --part train -N 2 -K 1 -Q 1 --count 3 --embed -q -o embedded.h5
for file in embedded.h5 split.h5; do
  size=$(stat -c %s "$file")
  for i in $(seq 0 39); do
    len=$((size * i / 40))
    head -c "$len" "$file" > cut.h5
    n=$((n + 1))
    rc=0
    fsh-episodes info cut.h5 >/dev/null 2>stderr.txt || rc=$?
    if [ $rc -ne 1 ] || [ "$(wc -l <stderr.txt)" -ne 1 ] ||
       ! grep -q '^fsh-episodes: error: cut.h5: ' stderr.txt; then
      echo "FAIL $file cut to $len of $size bytes: exit $rc" >&2
      sed 's/^/  stderr: /' stderr.txt >&2
      fail=$((fail + 1))
    fi
  done
  echo "ok   $file truncated at 40 lengths: one error line each"
done

echo "$n cases, $fail failed"
[ $fail -eq 0 ]
