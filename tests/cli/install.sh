#!/bin/bash
# cmake --install into a temporary prefix puts everything where the layout promises, and it
# works from there with nothing of the source tree or build folder on PATH: the five tools
# (--version; synth -> split -> sample -> train -> adapt -> eval, the same output as the build's
# tools), the man pages (man -l, and man through MANPATH), the Vinyals class lists (the sizes
# and structure their README states), the examples (the Omniglot Makefile finds the installed
# class lists by default; the Slurm scripts are executable) and bash completion (sourced the way
# bash-completion loads it: fsh-episodes sa<TAB> gives sample, and so on).
set -u
bin=$(dirname "$(command -v fsh-episodes)")
build=$(dirname "$bin")
[ -f "$build/cmake_install.cmake" ] || { echo "SKIP: no cmake_install.cmake next to $bin"; exit 77; }
command -v cmake >/dev/null || { echo "SKIP: cmake is not on PATH"; exit 77; }
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
cd "$d" || exit 1
fail=0
die() { echo "FAIL: $*" >&2; fail=1; }
tools="fsh-episodes fsh-train fsh-adapt fsh-eval fsh-bench"

cmake --install "$build" --prefix "$d/prefix" >install.log 2>&1 || {
  echo "FAIL: cmake --install: $(tail -5 install.log)" >&2
  exit 1
}
p=$d/prefix

# ---- the files --------------------------------------------------------------------------------
for t in $tools; do
  [ -x "$p/bin/$t" ] || die "bin/$t missing or not executable"
  [ -f "$p/share/man/man1/$t.1" ] || die "share/man/man1/$t.1 missing"
  [ -f "$p/share/bash-completion/completions/$t" ] || die "completion for $t missing"
done
for page in fsh-dataset fsh-split fsh-episodes fsh-model fsh-adapted fsh-formats; do
  [ -f "$p/share/man/man5/$page.5" ] || die "share/man/man5/$page.5 missing"
done
[ -f "$p/share/man/man7/fsh.7" ] || die "share/man/man7/fsh.7 missing"
v=$p/share/fsh/omniglot/vinyals
for f in trainval test train val; do [ -f "$v/$f.txt" ] || die "$v/$f.txt missing"; done
[ -f "$p/share/fsh/omniglot/README" ] || die "share/fsh/omniglot/README missing"
grep -q "MIT" "$p/share/fsh/omniglot/README" || die "the class lists' README has no licence"
for s in eval-array eval-merge submit-eval train-mpi; do
  [ -x "$p/share/fsh/examples/slurm/$s.sh" ] || die "share/fsh/examples/slurm/$s.sh missing or not executable"
done
[ -f "$p/share/fsh/examples/omniglot.mk" ] || die "share/fsh/examples/omniglot.mk missing"

# The class lists as their README describes them: trainval 1200 characters x 4 rotations,
# test 423 x 4, trainval = train + val, no class in both trainval and test, every line
# Alphabet/characterNN/rotDDD.
[ "$(wc -l <"$v/trainval.txt")" = 4800 ] && [ "$(wc -l <"$v/test.txt")" = 1692 ] ||
  die "class lists: $(wc -l "$v"/*.txt)"
[ "$(sed 's|/rot[0-9]*$||' "$v/trainval.txt" | sort -u | wc -l)" = 1200 ] ||
  die "trainval does not hold 1200 characters"
[ "$(sed 's|/rot[0-9]*$||' "$v/test.txt" | sort -u | wc -l)" = 423 ] || die "test does not hold 423 characters"
cmp -s <(sort "$v/trainval.txt") <(sort "$v/train.txt" "$v/val.txt") || die "trainval is not train + val"
[ -z "$(sort "$v/trainval.txt" "$v/test.txt" | uniq -d)" ] || die "classes in both trainval and test"
grep -Ev -h '^[^/ ]+/character[0-9]+/rot(000|090|180|270)$' "$v"/*.txt | head -1 | grep -q . &&
  die "a class list line is not Alphabet/characterNN/rotDDD"

# ---- the installed tools, alone on PATH ----------------------------------------------------------
run() { env PATH="$p/bin:/usr/bin:/bin" "$@"; }
for t in $tools; do
  [ "$(run bash -c "command -v $t")" = "$p/bin/$t" ] || die "$t is not found in the prefix"
  run "$t" --version | grep -q "^$t (fsh) " || die "$t --version: $(run "$t" --version 2>&1 | head -2)"
done
pipeline() {  # TAG: the tiny pipeline with the tools on PATH, into TAG.*
  fsh-episodes synth --classes 30 --instances 6 --seed 2 -o "$1.glyphs.h5" -q --no-provenance &&
    fsh-episodes split "$1.glyphs.h5" --by class --fraction 0.6,0.2,0.2 -o "$1.split.h5" -q \
      --no-provenance &&
    fsh-episodes sample "$1.split.h5" --part test -N 5 -K 1 -Q 3 --count 4 -o "$1.test.h5" -q \
      --no-provenance &&
    fsh-train --data "$1.split.h5" -N 5 -K 1 -Q 3 -n 4 --hidden 8 --val-part none --no-best \
      -o "$1.model.h5" -q --no-provenance &&
    fsh-adapt -m "$1.model.h5" -e "$1.test.h5" -o "$1.adapted.h5" -q --no-provenance &&
    fsh-eval -a "$1.adapted.h5" -e "$1.test.h5"
}
run bash -c "$(declare -f pipeline); pipeline installed" >installed.txt 2>&1 ||
  die "pipeline with the installed tools: $(cat installed.txt)"
grep -q "^accuracy	" installed.txt || die "installed fsh-eval printed: $(cat installed.txt)"
pipeline built >built.txt 2>&1 || die "pipeline with the build's tools: $(cat built.txt)"
sed 's/installed\./built./g' installed.txt | cmp -s - built.txt ||
  die "installed and built tools differ: $(diff <(sed 's/installed\./built./g' installed.txt) built.txt)"

# ---- man pages ------------------------------------------------------------------------------------
if command -v man >/dev/null; then
  export MANWIDTH=80
  man -l "$p/share/man/man1/fsh-train.1" 2>/dev/null | grep -q "fsh-train - " ||
    die "man -l share/man/man1/fsh-train.1 does not render"
  [ "$(MANPATH=$p/share/man man -w fsh-eval 2>/dev/null)" = "$p/share/man/man1/fsh-eval.1" ] ||
    die "man -w fsh-eval with MANPATH: $(MANPATH=$p/share/man man -w fsh-eval 2>&1)"
  MANPATH=$p/share/man man 5 fsh-model 2>/dev/null | grep -q "fsh-model - " ||
    die "man 5 fsh-model with MANPATH does not render"
else
  echo "man is not installed: the pages' rendering is not checked"
fi

# ---- bash completion, as bash-completion loads it (the file named after the tool) -------------
cat >complete.sh <<'EOF'
source "$1/share/bash-completion/completions/fsh-episodes"
c() {  # the completions of the words given, the last one being completed
  COMP_WORDS=("$@")
  COMP_CWORD=$(($# - 1))
  COMPREPLY=()
  _fsh
  echo "${COMPREPLY[*]}"
}
complete -p fsh-bench | grep -q -- "-F _fsh fsh-bench" || echo "fsh-bench is not registered"
[ "$(c fsh-episodes sa)" = sample ] || echo "fsh-episodes sa: $(c fsh-episodes sa)"
[ "$(c fsh-episodes "")" = "import synth split sample info export show" ] ||
  echo "fsh-episodes: $(c fsh-episodes "")"
[ "$(c fsh-episodes sample --wi)" = --within-group ] || echo "sample --wi: $(c fsh-episodes sample --wi)"
[ "$(c fsh-episodes import "")" = "omniglot folder" ] || echo "import: $(c fsh-episodes import "")"
[ "$(c fsh-train --method "")" = "protonet hypernet maml" ] || echo "--method: $(c fsh-train --method "")"
[ "$(c fsh-train --inner-s)" = --inner-steps ] || echo "--inner-s: $(c fsh-train --inner-s)"
[ "$(c fsh-train --bn t)" = transductive ] || echo "--bn t: $(c fsh-train --bn t)"
[ "$(c fsh-train --val-part n)" = none ] || echo "--val-part n: $(c fsh-train --val-part n)"
[ -z "$(c fsh-train --threads "")" ] || echo "--threads: $(c fsh-train --threads "")"
[ -z "$(c fsh-train --inner-lr "")" ] || echo "--inner-lr: $(c fsh-train --inner-lr "")"
[ "$(c fsh-adapt -m installed.mo)" = installed.model.h5 ] || echo "-m: $(c fsh-adapt -m installed.mo)"
[ "$(c fsh-eval --merge a.json installed.te)" = installed.test.h5 ] ||
  echo "--merge second file: $(c fsh-eval --merge a.json installed.te)"
[ "$(c fsh-bench --output=installed.gl)" = installed.glyphs.h5 ] ||
  echo "--output=: $(c fsh-bench --output = installed.gl)"
[ "$(c fsh-episodes info installed.spl)" = installed.split.h5 ] || echo "info FILE: $(c fsh-episodes info installed.spl)"
[ "$(c fsh-episodes split --by "")" = "group class" ] || echo "split --by: $(c fsh-episodes split --by "")"
[ "$(c fsh-bench --co)" = "--configs --count" ] || echo "fsh-bench --co: $(c fsh-bench --co)"
EOF
# bash splits --output=x at "=" (COMP_WORDBREAKS): the words are --output, =, x.
sed -i 's/c fsh-bench --output=installed.gl)" = /c fsh-bench --output = installed.gl)" = /' complete.sh
out=$(run bash complete.sh "$p" 2>&1)
[ -z "$out" ] || die "completion: $out"
for t in $tools; do
  cmp -s "$p/share/bash-completion/completions/$t" "$p/share/bash-completion/completions/fsh-episodes" ||
    die "the completion files differ"
done

# ---- the Omniglot Makefile from the prefix: the installed class lists by default --------------
mkdir -p archives
touch archives/images_background.zip archives/images_evaluation.zip
if command -v make >/dev/null; then
  plan=$(run make -n -f "$p/share/fsh/examples/omniglot.mk" DATA=archives OUT=o 2>&1) ||
    die "make -n from the prefix: $plan"
  line=$(grep "fsh-episodes split" <<<"$plan")
  list=$(sed 's/.*trainval=\([^,]*\),.*/\1/' <<<"$line")
  [ "$(realpath "$list")" = "$v/trainval.txt" ] || die "the Makefile's class list is $list: $line"
  grep -q "^fsh-train --method maml" <<<"$plan" || die "make -n from the prefix: no training: $plan"
  help=$(run make -f "$p/share/fsh/examples/omniglot.mk" help 2>&1)
  grep -q "^# The Omniglot protocol as files" <<<"$help" || die "make help from the prefix: $help"
else
  echo "make is not installed: the Makefile is not checked"
fi
exit $fail
