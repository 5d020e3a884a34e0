#!/usr/bin/python3
"""The formats of man 5 fsh-dataset, fsh-split and fsh-episodes are enough to work with fsh
files from h5py alone: files written here without any fsh code are read by the tools (info,
split, sample), and the tools' outputs are checked here with h5py and numpy, against
independent computations (FNV-1a fingerprint, numpy.rot90 for rotations, class-major labels).
Exit 77 (skip) without h5py."""
import atexit
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
except ImportError:
    print("h5py/numpy not available: skipping", file=sys.stderr)
    sys.exit(77)

TOOL = shutil.which("fsh-episodes")
if TOOL is None:
    print("fsh-episodes not on PATH", file=sys.stderr)
    sys.exit(1)
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(*args, stdin=None, ok=True):
    p = subprocess.run([TOOL, *args], input=stdin, capture_output=True)
    if ok and p.returncode != 0:
        raise SystemExit(f"fsh-episodes {' '.join(args)} failed: {p.stderr.decode()}")
    return p


def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def fingerprint(images, labels):
    m, hgt, w, c = images.shape
    return fnv1a64(struct.pack("<4q", m, hgt, w, c) + images.astype(np.uint8).tobytes()
                   + labels.astype("<i4").tobytes())


rng = np.random.default_rng(5)
N_CLASSES, PER, SIZE = 10, 7, 6
images = rng.integers(0, 256, (N_CLASSES * PER, SIZE, SIZE, 1), dtype=np.uint8)
labels = (np.arange(N_CLASSES * PER) % N_CLASSES).astype(np.int32)  # interleaved classes
class_names = [f"Script{c // 5}/character{c % 5 + 1:02d}" for c in range(N_CLASSES)]

WORK = tempfile.mkdtemp()
atexit.register(shutil.rmtree, WORK, True)
os.chdir(WORK)

# 1. A dataset written by h5py alone: variable-length strings, int64 class_group (any integer
# type may be used), no fingerprint attribute, no provenance.
with h5py.File("mini.h5", "w") as f:
    f.attrs["fsh_format"] = "fsh-dataset"
    f.attrs["fsh_format_version"] = 1
    f["images"] = images
    f["labels"] = labels
    f.create_dataset("class_names", data=class_names, dtype=h5py.string_dtype())
    f["class_group"] = np.arange(N_CLASSES) // 5
    f.create_dataset("group_names", data=["Script0", "Script1"], dtype=h5py.string_dtype())
info = json.loads(run("info", "--json", "mini.h5").stdout)
check(info["format"] == "fsh-dataset" and info["images"] == 70 and info["classes"] == 10
      and info["groups"] == 2 and info["height"] == SIZE, "info reads an h5py-written dataset")
fp = fingerprint(images, labels)
check(info["fingerprint"] == fp, f"fingerprint matches an independent FNV-1a ({fp})")

# Fixed-length strings (numpy bytes) and a correct fingerprint attribute are accepted too;
# a wrong fingerprint attribute is rejected.
with h5py.File("fixed.h5", "w") as f:
    f.attrs["fsh_format"] = np.bytes_("fsh-dataset")
    f.attrs["fsh_format_version"] = np.int32(1)
    f.attrs["fingerprint"] = fp
    f["images"] = images
    f["labels"] = labels.astype(np.int64)
    f["class_names"] = np.array([n.encode() for n in class_names])
    f["class_group"] = (np.arange(N_CLASSES) // 5).astype(np.uint8)
    f["group_names"] = np.array([b"Script0", b"Script1"])
check(json.loads(run("info", "--json", "fixed.h5").stdout)["fingerprint"] == fp,
      "fixed-length strings and other integer widths are accepted")
with h5py.File("fixed.h5", "a") as f:
    f.attrs["fingerprint"] = "0123456789abcdef"
p = run("info", "fixed.h5", ok=False)
check(p.returncode != 0 and b"fingerprint attribute is 0123456789abcdef" in p.stderr,
      "a wrong fingerprint attribute is rejected")

# 2. A split written by h5py: sample from its test part; check the output with h5py.
part = np.array([0, 0, 0, 1, 2, 2, 2, 2, -1, 0], np.int8)
shutil.copy("mini.h5", "split.h5")
with h5py.File("split.h5", "a") as f:
    f.attrs["fsh_format"] = "fsh-split"
    f["class_part"] = part
run("sample", "split.h5", "--part", "test", "-N", "3", "-K", "2", "-Q", "3", "--count", "20",
    "--seed", "4", "-o", "ep.h5")
with h5py.File("ep.h5", "r") as f:
    check(f.attrs["fsh_format"] == "fsh-episodes" and f.attrs["fsh_format_version"] == 1,
          "episodes: root attributes")
    check((f.attrs["n_way"], f.attrs["k_shot"], f.attrs["n_query"], f.attrs["count"])
          == (3, 2, 3, 20), "episodes: N, K, Q, count attributes")
    check(f.attrs["dataset_fingerprint"] == fp and f.attrs["dataset_size"] == 70,
          "episodes: source fingerprint and size")
    cls, sup, qry = f["classes"][()], f["support"][()], f["query"][()]
    check(cls.shape == (20, 3) and sup.shape == (20, 6) and qry.shape == (20, 9),
          "episodes: array shapes [E,N], [E,N*K], [E,N*Q]")
    check(set(cls.ravel()) <= {4, 5, 6, 7}, "episodes: only test classes")
    check(all(len(set(row)) == 3 for row in cls), "episodes: distinct classes per episode")
    check(np.array_equal(labels[sup], np.repeat(cls, 2, axis=1))
          and np.array_equal(labels[qry], np.repeat(cls, 3, axis=1)),
          "episodes: class-major order (support[e][c*K+k] has label classes[e][c])")
    check(all(len(set(np.concatenate([s, q]))) == 15 for s, q in zip(sup, qry)),
          "episodes: no image twice in an episode")
    check(f["provenance"].attrs["tool"] == "fsh-episodes sample", "episodes: provenance tool")

# 3. Embedded images equal the dataset's; the file is read through stdin.
run("sample", "split.h5", "--part", "train", "-N", "2", "-K", "1", "-Q", "1", "--count", "5",
    "--embed", "-o", "emb.h5")
with h5py.File("emb.h5", "r") as f:
    idx = f["embedded/index"][()]
    used = np.union1d(f["support"][()].ravel(), f["query"][()].ravel())
    check(np.array_equal(idx, used), "embedded/index lists exactly the images used, sorted")
    check(np.array_equal(f["embedded/images"][()], images[idx]), "embedded images equal the dataset's")
piped = run("sample", "split.h5", "-N", "2", "-K", "1", "-Q", "1", "--count", "3", "-o", "-").stdout
info = json.loads(run("info", "--json", "-", stdin=piped).stdout)
check(info["format"] == "fsh-episodes" and info["episodes"] == 3, "sample -o - | info - works")

# 4. An episodes file written by h5py alone is read and checked against its dataset.
with h5py.File("handmade.h5", "w") as f:
    f.attrs["fsh_format"] = "fsh-episodes"
    f.attrs["fsh_format_version"] = 1
    f.attrs["n_way"], f.attrs["k_shot"], f.attrs["n_query"] = 2, 1, 1
    f.attrs["dataset_fingerprint"] = fp
    f.attrs["dataset_size"] = 70
    f["classes"] = np.array([[0, 3], [9, 1]], np.int32)
    f["support"] = np.array([[0, 3], [9, 1]], np.int32)   # image i has label i % 10
    f["query"] = np.array([[10, 13], [19, 11]], np.int32)
info = json.loads(run("info", "--json", "handmade.h5", "--dataset", "mini.h5").stdout)
check(info["episodes"] == 2 and info["checked_against"] == "mini.h5",
      "an h5py-written episodes file passes the check against its dataset")
with h5py.File("handmade.h5", "a") as f:
    f["query"][1, 0] = 18  # label 8, listed under class 9
p = run("info", "handmade.h5", "--dataset", "mini.h5", ok=False)
check(p.returncode != 0 and b"episode 1 lists image 18 under class 9" in p.stderr,
      "a mislabelled episode is caught")
with h5py.File("handmade.h5", "a") as f:
    f.attrs["count"] = 3
p = run("info", "handmade.h5", ok=False)
check(p.returncode != 0 and b"attribute count is 3 but /classes holds 2 episodes" in p.stderr,
      "a count attribute that disagrees with the arrays is caught")

# 5. Splits with rotations: the rotated classes' images are numpy.rot90 of the source's.
run("split", "mini.h5", "--by", "class", "--fraction", "0.6,0.2,0.2", "--rotations", "4",
    "-o", "rot.h5")
with h5py.File("rot.h5", "r") as f:
    names = [n.decode() for n in f["class_names"][()]]
    rimg, rlab, rpart = f["images"][()], f["labels"][()], f["class_part"][()]
    check(f.attrs["fsh_format"] == "fsh-split" and len(names) == 40, "split: 4 x 10 classes")
    good = True
    for k, name in enumerate(names):
        base, rot = name.rsplit("/", 1)
        src = class_names.index(base)
        turns = int(rot[3:]) // 90
        expect = np.rot90(images[labels == src], turns, axes=(1, 2))
        good &= np.array_equal(rimg[rlab == k], expect)
        good &= rpart[k] == rpart[4 * src]
    check(good, "split: rotated classes equal numpy.rot90 (counter-clockwise) of their source, "
          "in their source's part")
    check(sorted(np.bincount(rpart[::4].astype(int) + 1)[1:].tolist()) == [2, 2, 6],
          "split: 6/2/2 classes for fractions 0.6,0.2,0.2")

print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
