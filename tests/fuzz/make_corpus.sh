#!/usr/bin/env bash
# Makes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/): small valid inputs of
# every kind each target reads, written by fsh's own tools (HDF5 files) and by Python (PNG, JPEG,
# zip). No Omniglot data. The corpus is committed; rerun this after a format change:
#     PATH=$PWD/build/bin:$PATH tests/fuzz/make_corpus.sh
# Needs the fsh tools on PATH and /usr/bin/python3 with h5py, numpy and PIL.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$here/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
rm -rf "$out"
mkdir -p "$out"/{fuzz_dataset,fuzz_episodes,fuzz_model,fuzz_adapted,fuzz_image,fuzz_zip}
q=(-q --no-provenance)

# Datasets and splits. The episodes target checks its inputs against this very dataset
# (fuzz_episodes.cpp synthesizes it in memory with the same options).
fsh-episodes synth --classes 6 --instances 4 --size 16 --seed 1 --threads 1 "${q[@]}" -o ds.h5
fsh-episodes split ds.h5 --by class --fraction 0.5,0.25,0.25 "${q[@]}" -o split.h5
fsh-episodes split ds.h5 --by class --fraction 0.5,0.5 --rotations 4 "${q[@]}" -o rot.h5
hdf5=(ds.h5 split.h5 rot.h5)

# Episodes: plain, embedded, within one group, a shard.
fsh-episodes sample ds.h5 -N 2 -K 1 -Q 1 --count 2 --seed 3 "${q[@]}" -o ep.h5
fsh-episodes sample ds.h5 -N 3 -K 2 -Q 1 --count 1 --embed "${q[@]}" -o ep-embed.h5
fsh-episodes sample ds.h5 -N 2 -K 1 -Q 0 --count 2 --first 5 --within-group "${q[@]}" -o ep-group.h5
hdf5+=(ep.h5 ep-embed.h5 ep-group.h5)

# Models (Adam: two optimizer slots; SGD with momentum: one) and the adapted classifiers.
train=(fsh-train --data split.h5 -N 2 -K 1 -Q 1 -n 2 --hidden 2 --val-every 0 --no-best
       --threads 1 "${q[@]}")
"${train[@]}" -o model-adam.h5
"${train[@]}" --optimizer sgd --momentum 0.5 --bn transductive -o model-sgd.h5
hdf5+=(model-adam.h5 model-sgd.h5)
fsh-adapt -m model-adam.h5 -e ep.h5 --threads 1 "${q[@]}" -o adapted.h5
fsh-adapt -m model-sgd.h5 -e ep-embed.h5 --threads 1 "${q[@]}" -o adapted-t.h5
hdf5+=(adapted.h5 adapted-t.h5)

# The HDF5 seeds hold their strings fixed-length, as fsh-formats(5) allows. fsh writes them
# variable-length, in HDF5's global heap; Debian 12's HDF5 1.10.8 crashes or hangs on a corrupt
# global heap collection (see tests/fuzz/README), which byte mutations of such files hit within
# seconds, inside the library, before fsh's own checks get a look. Without a global heap in the
# seeds the fuzzers spend their time on fsh's validation.
/usr/bin/python3 - "$out" "${hdf5[@]}" <<'PY'
import io, sys, zipfile
import h5py, numpy as np
from PIL import Image
out, hdf5 = sys.argv[1], sys.argv[2:]


def fixed(value):
    b = value.encode() if isinstance(value, str) else bytes(value)
    return np.array(b, dtype=f"S{max(len(b), 1)}")


def copy_fixed(src, dst):
    """src with every string attribute and dataset rewritten fixed-length."""
    def attrs(a, b):
        for k, v in a.attrs.items():
            if isinstance(v, (str, bytes)):
                b.attrs[k] = fixed(v)
            else:
                b.attrs[k] = v
    with h5py.File(src, "r") as f, h5py.File(dst, "w") as g:
        attrs(f, g)
        def visit(name, obj):
            if isinstance(obj, h5py.Group):
                attrs(obj, g.require_group(name))
                return
            if h5py.check_string_dtype(obj.dtype):
                items = [x if isinstance(x, bytes) else x.encode() for x in obj[()]]
                width = max([len(x) for x in items] + [1])
                g.create_dataset(name, data=np.array(items, dtype=f"S{width}"))
            else:
                g.create_dataset(name, data=obj[()], chunks=obj.chunks,
                                 compression=obj.compression, compression_opts=obj.compression_opts)
            attrs(obj, g[name])
        f.visititems(visit)


# A dataset written with h5py alone, the man page's way (no fingerprint).
with h5py.File("h5py.h5", "w") as f:
    f.attrs["fsh_format"] = "fsh-dataset"
    f.attrs["fsh_format_version"] = 1
    f["images"] = (np.arange(4 * 3 * 2 * 1) % 256).astype(np.uint8).reshape(4, 3, 2, 1)
    f["labels"] = np.array([0, 1, 1, 0], np.int16)
    f["class_names"] = np.array([b"a/x", b"b/y"], "S3")
    f["class_group"] = np.array([0, 1], np.int32)
    f["group_names"] = np.array([b"a", b"b"], "S1")

kind = {"ds": "dataset", "split": "dataset", "rot": "dataset", "h5py": "dataset",
        "ep": "episodes", "model": "model", "adapted": "adapted"}
for name in hdf5 + ["h5py.h5"]:
    target = kind[name.split("-")[0].split(".")[0]]
    copy_fixed(name, f"{out}/fuzz_{target}/{name}")

rng = np.random.default_rng(1)
def png(img, **kw):
    b = io.BytesIO(); img.save(b, "PNG", **kw); return b.getvalue()
def jpeg(img, **kw):
    b = io.BytesIO(); img.save(b, "JPEG", **kw); return b.getvalue()
gray = Image.fromarray(rng.integers(0, 256, (9, 7), dtype=np.uint8))
rgb = Image.fromarray(rng.integers(0, 256, (6, 5, 3), dtype=np.uint8))
images = {
    "gray8.png": png(gray),
    "bilevel.png": png(gray.convert("1")),
    "palette.png": png(rgb.convert("P")),
    "rgba.png": png(rgb.convert("RGBA")),
    "gray-alpha.png": png(gray.convert("LA")),
    "gray16.png": png(Image.fromarray(rng.integers(0, 65536, (4, 3), dtype=np.uint16))),
    "gray.jpg": jpeg(gray),
    "rgb.jpg": jpeg(rgb),
    "progressive.jpg": jpeg(rgb, progressive=True),
}
for name, data in images.items():
    open(f"{out}/fuzz_image/{name}", "wb").write(data)

# Omniglot's layout: <archive>/<Alphabet>/<characterNN>/<file>.png, stored and deflated.
draw = png(Image.fromarray((rng.integers(0, 2, (10, 10)) * 255).astype(np.uint8)).convert("1"))
for name, method in (("stored.zip", zipfile.ZIP_STORED), ("deflated.zip", zipfile.ZIP_DEFLATED)):
    with zipfile.ZipFile(f"{out}/fuzz_zip/{name}", "w", method) as z:
        z.writestr("images_background/Latin/character01/0001_01.png", draw)
        z.writestr("images_background/Latin/character01/0001_02.png", images["gray8.png"])
        z.writestr("images_background/Greek/character02/0002_01.png", images["palette.png"])
PY
du -sh "$out"/* >&2
