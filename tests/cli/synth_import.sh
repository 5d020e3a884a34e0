#!/bin/bash
# fsh-episodes synth and import from the command line: the same seed gives byte-identical files
# (with --no-provenance, since the command line names the output), another seed does not;
# `-o -` writes the same bytes to stdout; an Omniglot-layout zip made here imports.
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

fsh-episodes synth --classes 40 --instances 5 --seed 3 --no-provenance -q -o a.h5
fsh-episodes synth --classes 40 --instances 5 --seed 3 --no-provenance -q -o b.h5
fsh-episodes synth --classes 40 --instances 5 --seed 4 --no-provenance -q -o c.h5
fsh-episodes synth --classes 40 --instances 5 --seed 3 --no-provenance -q --threads 1 -o - > d.h5
cmp a.h5 b.h5
cmp a.h5 d.h5
if cmp -s a.h5 c.h5; then echo "FAIL: seeds 3 and 4 gave identical files"; exit 1; fi
[ -z "$(ls -A | grep -v '^[abcd]\.h5$' || true)" ] || { echo "FAIL: stray files: $(ls -A)"; exit 1; }

# show: a PNG montage of an episode, from the dataset or from embedded images, file or stdout.
fsh-episodes sample a.h5 -N 5 -K 1 -Q 3 --count 4 -q -o ep.h5
fsh-episodes show ep.h5 --episode 3 --scale 2 -o ep.png
fsh-episodes sample a.h5 -N 5 -K 1 -Q 3 --count 4 --embed -q -o - | fsh-episodes show - -o - > emb.png
for f in ep.png emb.png; do
  [ "$(head -c 8 "$f" | od -An -tx1 | tr -d ' ')" = "89504e470d0a1a0a" ] || { echo "FAIL: $f is not a PNG"; exit 1; }
done
# 5 rows of 1 support then 5 rows of 3 queries, 28x28 at scale 2, gaps of 2:
# width 2 + 3 x (56 + 2) = 176, height 2 + 5 x 58 + 6 + 5 x 58 = 588 (PNG IHDR bytes 16..23).
[ "$(head -c 24 ep.png | tail -c 8 | od -An -tu1 | tr -s ' ')" = " 0 0 0 176 0 0 2 76" ] || {
  echo "FAIL: ep.png has the wrong size"; exit 1; }

# A tiny Omniglot-style archive: 105x105 1-bit PNGs (written with zlib by the test itself).
/usr/bin/python3 - <<'PY'
import struct, zipfile, zlib
def png1(ink_cols):
    rows = b""
    for _ in range(105):
        bits = [0 if x < ink_cols else 1 for x in range(105)] + [0] * 7
        row = bytes(sum(b << (7 - i) for i, b in enumerate(bits[k:k + 8])) for k in range(0, 105, 8))
        rows += b"\0" + row
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 105, 105, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
with zipfile.ZipFile("images_background.zip", "w") as z:
    for a in ("Alpha", "Beta"):
        for c in (1, 2):
            for i in range(1, 4):
                z.writestr(f"images_background/{a}/character0{c}/000{c}_0{i}.png", png1(4 * i))
PY
fsh-episodes import omniglot images_background.zip -q -o omni.h5
fsh-episodes import omniglot images_background.zip --size 14x20 -q -o - > omni2.h5
test -s omni.h5
test -s omni2.h5
echo "ok"
