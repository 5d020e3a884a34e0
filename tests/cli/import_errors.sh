#!/bin/bash
# Bad inputs to fsh-episodes import / synth / show: each must fail with a non-zero exit, one
# error line on stderr of the form "fsh-episodes: error: ..." naming the offending file or option
# (command-line parse errors may add the shared "Run '... --help' for usage." hint line), and no
# output file (nor a temporary) left behind.
set -u
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

# Fixtures: an empty folder, a zip that is not a zip, a tree holding a corrupt PNG, a real zip
# holding a corrupt PNG in Omniglot's layout, and an Omniglot zip without drawings.
mkdir -p empty tree/cls out
printf 'this is not a zip archive' > notzip.zip
printf '\211PNG\r\n\032\n\0\0\0\rIHDR' > tree/cls/broken.png
/usr/bin/python3 - <<'PY'
import zipfile
with zipfile.ZipFile("badpng.zip", "w") as z:
    z.writestr("images_background/Latin/character01/0001_01.png", b"\x89PNG\r\n\x1a\nbroken")
with zipfile.ZipFile("nodrawings.zip", "w") as z:
    z.writestr("readme.txt", "nothing here")
PY
# Episodes for show: one with its dataset, one whose dataset has been deleted.
fsh-episodes synth --classes 10 --instances 4 -q -o syn.h5
fsh-episodes sample syn.h5 -N 3 -K 1 -Q 1 --count 2 -q -o ep.h5
fsh-episodes synth --classes 10 --instances 4 -q -o gone.h5
fsh-episodes sample gone.h5 -N 3 -K 1 -Q 1 --count 2 -q -o orphan.h5
rm gone.h5

fail=0
# name | expected text in the message | arguments (output always out/result.*)
while IFS='|' read -r name want args; do
  name=$(echo "$name" | sed 's/ *$//'); want=$(echo "$want" | sed 's/ *$//')
  [ -z "$name" ] && continue
  out=out/result.h5
  [[ "$args" == show* ]] && out=out/result.png
  # shellcheck disable=SC2086
  fsh-episodes $args -o "$out" >stdout.txt 2>stderr.txt
  rc=$?
  lines=$(grep -cv "^Run 'fsh-episodes.* --help' for usage.$" stderr.txt)
  msg=$(head -n 1 stderr.txt)
  if [ "$rc" -eq 0 ]; then
    echo "FAIL $name: exit 0"; fail=1
  elif [ "$lines" -ne 1 ] || [[ "$msg" != "fsh-episodes: error: "* ]]; then
    echo "FAIL $name: expected one 'fsh-episodes: error:' line, got:"; cat stderr.txt; fail=1
  elif [[ "$msg" != *"$want"* ]]; then
    echo "FAIL $name: message lacks '$want': $msg"; fail=1
  elif [ -n "$(ls -A out)" ]; then
    echo "FAIL $name: left files behind: $(ls -A out)"; fail=1
  else
    echo "ok   $name (exit $rc): $msg"
  fi
  rm -rf out && mkdir out
done <<'TABLE'
missing archive      |missing.zip: no such file                 |import omniglot missing.zip
not a zip            |notzip.zip: not a zip archive             |import omniglot notzip.zip
zip without drawings |nodrawings.zip: no Omniglot drawings      |import omniglot nodrawings.zip
corrupt PNG in zip   |badpng.zip:images_background/Latin/character01/0001_01.png|import omniglot badpng.zip
corrupt PNG in tree  |tree/cls/broken.png: corrupt or unsupported PNG|import folder tree
empty folder         |empty: no images                          |import folder empty
missing folder       |nowhere: no such file                     |import folder nowhere
size 0               |--size must be N or HxW                   |import folder tree --size 0
size 5000            |--size must be N or HxW                   |import omniglot notzip.zip --size 5000
bad size text        |got '28x'                                 |import folder tree --size 28x
channels 2           |--channels                                |import folder tree --channels 2
channels on omniglot |apply to 'import folder' only             |import omniglot notzip.zip --channels 3
two folder roots     |one ROOT folder                           |import folder tree empty
unknown kind         |KIND                                      |import mnist tree
synth 0 classes      |--classes                                 |synth --classes 0
synth size 4         |--size                                    |synth --size 4
synth per-group      |--per-group must be in [1, --classes = 10]|synth --classes 10 --per-group 11
show missing file    |missing.h5                                |show missing.h5
show not episodes    |syn.h5                                    |show syn.h5
show dataset gone    |orphan.h5                                 |show orphan.h5
show episode range   |--episode must be in [0, 1]               |show ep.h5 --episode 2
show scale 0         |--scale                                   |show ep.h5 --scale 0
show scale 33        |--scale                                   |show ep.h5 --scale 33
TABLE
exit $fail
