#!/usr/bin/python3
"""Checks `fsh-episodes import omniglot` against an independent computation on the real archive.

Needs FSH_DATA_DIR (with omniglot/images_evaluation.zip) and Debian's python3-pil, numpy and
h5py; exits 77 (skip), saying why, when any is missing. The reference decodes every PNG with
Pillow, inverts it to ink bright, and computes the 105 -> 28 area average by upsampling 4x
(105*4 = 420 = 28*15) and taking exact integer means over 15x15 blocks, rounded half up:
a route that shares no code with fsh's resize. Every one of the 13,180 images must match
exactly, and the class / group / instance names must be the archive's.
"""
import io
import os
import subprocess
import sys
import tempfile
import zipfile

try:
    import h5py
    import numpy as np
    from PIL import Image
except ImportError as e:
    print(f"test_import_reference: skipped ({e})")
    sys.exit(77)

data = os.environ.get("FSH_DATA_DIR")
archive = os.path.join(data or "", "omniglot", "images_evaluation.zip")
if not data or not os.path.isfile(archive):
    print("test_import_reference: FSH_DATA_DIR is not set (or lacks "
          "omniglot/images_evaluation.zip); skipped")
    sys.exit(77)

with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "ev.h5")
    subprocess.run(["fsh-episodes", "import", "omniglot", archive, "-q", "-o", out], check=True)
    with h5py.File(out, "r") as f:
        images = f["images"][...]
        labels = f["labels"][...]
        classes = [c.decode() for c in f["class_names"][...]]
        groups = [g.decode() for g in f["group_names"][...]]
        class_group = f["class_group"][...]
        instances = [n.decode() for n in f["instance_names"][...]]

got = {(classes[l], n): i for i, (l, n) in enumerate(zip(labels, instances))}
assert images.shape == (13180, 28, 28, 1), images.shape
assert len(classes) == 659 and len(groups) == 20, (len(classes), len(groups))

checked = 0
with zipfile.ZipFile(archive) as z:
    for name in z.namelist():
        parts = name.split("/")
        if not name.endswith(".png") or len(parts) < 3:
            continue
        alphabet, character, file = parts[-3:]
        key = (f"{alphabet}/{character}", file)
        assert key in got, f"{key} missing from the import"
        i = got[key]
        assert groups[class_group[labels[i]]] == alphabet
        px = np.array(Image.open(io.BytesIO(z.read(name))).convert("L"), dtype=np.int64)
        assert px.shape == (105, 105), (name, px.shape)
        ink = 255 - px                                     # white paper -> 0, black ink -> 255
        up = ink.repeat(4, axis=0).repeat(4, axis=1)       # 420 x 420
        sums = up.reshape(28, 15, 28, 15).sum(axis=(1, 3)) # each output: 225 subpixels
        ref = (2 * sums + 225) // 450                      # round half up of sums / 225
        if not np.array_equal(ref, images[i, :, :, 0]):
            diff = np.abs(ref - images[i, :, :, 0]).max()
            print(f"FAIL {name}: differs from the reference by up to {diff}")
            sys.exit(1)
        checked += 1

assert checked == 13180, checked
print(f"ok: {checked} images match the independent area-average reference exactly")
