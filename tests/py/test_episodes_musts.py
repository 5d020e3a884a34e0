#!/usr/bin/python3
"""Every MUST of man 5 fsh-episodes is enforced: episode files written here with h5py from the
man pages alone, each broken one way, are refused by the tools (info, info --dataset, show)
with exit status 1 and ONE line on stderr naming the file and the problem, and show leaves no
PNG behind. Among them the breaks that were once accepted silently (issue 11, finding 3): an
image both as support and as query, an image twice in the support or in the query, a class
twice in an episode, embedded images that differ from the dataset's, an upper-case
fingerprint (reported as misspelled, not as a mismatch), a too-small dataset_size (named as
such, not as a bad index). Also: info says "not recorded" for a file without a seed.
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


def run(*args):
    return subprocess.run([TOOL, *args], capture_output=True)


def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def fingerprint(imgs, labs):
    """man 5 fsh-dataset, FINGERPRINT; man 5 fsh-episodes uses it for /embedded too."""
    m, hgt, w, c = imgs.shape
    return fnv1a64(struct.pack("<4q", m, hgt, w, c) + imgs.astype(np.uint8).tobytes()
                   + labs.astype("<i4").tobytes())


WORK = tempfile.mkdtemp()
atexit.register(shutil.rmtree, WORK, True)
os.chdir(WORK)

# The dataset: 10 classes of 7 images, image i has label i % 10; classes 0-4 in group "a",
# 5-9 in group "b".
rng = np.random.default_rng(3)
images = rng.integers(0, 256, (70, 4, 4, 1), dtype=np.uint8)
labels = (np.arange(70) % 10).astype(np.int32)
class_names = [f"{'ab'[c // 5]}/c{c}" for c in range(10)]
FP = fingerprint(images, labels)
with h5py.File("mini.h5", "w") as f:
    f.attrs["fsh_format"] = "fsh-dataset"
    f.attrs["fsh_format_version"] = 1
    f["images"] = images
    f["labels"] = labels
    f.create_dataset("class_names", data=class_names, dtype=h5py.string_dtype())
    f["class_group"] = (np.arange(10) // 5).astype(np.int32)
    f.create_dataset("group_names", data=["a", "b"], dtype=h5py.string_dtype())

# A valid file: 2 episodes, 2-way 2-shot 2-query (class-major; image c + 10 j has label c).
BASE = {
    "attrs": {"fsh_format": "fsh-episodes", "fsh_format_version": 1, "n_way": 2, "k_shot": 2,
              "n_query": 2, "dataset_fingerprint": FP, "dataset_size": 70, "seed": 5},
    "classes": [[0, 3], [9, 1]],
    "support": [[0, 10, 3, 13], [9, 19, 1, 11]],
    "query": [[20, 30, 23, 33], [29, 39, 21, 31]],
}


def episodes(name, attrs=None, drop=(), embed=False, embedded_fp=True, edit_embedded=None,
             **arrays):
    """Writes BASE with `attrs` and `arrays` replaced, attributes in `drop` left out; with
    `embed`, /embedded holds the dataset's images (edit_embedded(imgs) may change them before,
    or after the fingerprint is computed: see the callers)."""
    a = dict(BASE["attrs"], **(attrs or {}))
    for key in drop:
        del a[key]
    data = {k: np.array(arrays.get(k, BASE[k]), np.int32) for k in ("classes", "support", "query")}
    with h5py.File(name, "w") as f:
        for key, value in a.items():
            f.attrs[key] = value
        for key, value in data.items():
            f[key] = value
        if embed:
            index = np.union1d(data["support"].ravel(), data["query"].ravel()).astype(np.int32)
            imgs = images[index].copy()
            if edit_embedded == "before":  # wrong from the start, fingerprint matching them
                imgs[1, 0, 0, 0] ^= 0xFF
            f["embedded/images"] = imgs
            f["embedded/index"] = index
            if embedded_fp:
                f["embedded"].attrs["fingerprint"] = (
                    embedded_fp if isinstance(embedded_fp, str) else fingerprint(imgs, index))
            if edit_embedded == "after":  # changed after writing: the fingerprint is stale
                f["embedded/images"][1, 0, 0, 0] = imgs[1, 0, 0, 0] ^ 0xFF
    return name


def refused(what, args, file, words):
    """fsh-episodes ARGS exits 1 with one line 'fsh-episodes: error: FILE: ...WORDS...'."""
    for extra in ([], ["-o", "out.png"]) if args[0] == "show" else ([],):
        if os.path.exists("out.png"):
            os.remove("out.png")
        p = run(*args, *extra)
        err = p.stderr.decode()
        lines = err.splitlines()
        ok = (p.returncode == 1 and len(lines) == 1
              and lines[0].startswith(f"fsh-episodes: error: {file}: ") and words in lines[0]
              and not p.stdout and not os.path.exists("out.png"))
        if args[0] != "show" or extra:
            check(ok, f"{what}: fsh-episodes {' '.join(args)}: {err.strip()}"
                  + ("" if ok else f" (exit {p.returncode}; wanted {file}: ...{words}...)"))


def accepted(what, args):
    p = run(*args)
    check(p.returncode == 0, f"{what}: fsh-episodes {' '.join(args)} accepts it"
          + ("" if p.returncode == 0 else ": " + p.stderr.decode().strip()))
    return p


# The valid file is accepted everywhere (so every refusal below is the break's doing).
good = episodes("good.h5")
accepted("valid file", ["info", good])
accepted("valid file", ["info", good, "--dataset", "mini.h5"])
accepted("valid file", ["show", good, "--dataset", "mini.h5", "-o", "good.png"])
emb = episodes("emb.h5", embed=True)
accepted("valid embedded file", ["info", emb, "--dataset", "mini.h5"])
accepted("valid embedded file", ["show", emb, "-o", "emb.png"])
accepted("valid within_group file", ["info", episodes(
    "wg.h5", attrs={"within_group": 1}, classes=[[0, 3], [9, 6]],
    support=[[0, 10, 3, 13], [9, 19, 6, 16]], query=[[20, 30, 23, 33], [29, 39, 26, 36]]),
    "--dataset", "mini.h5"])

# Each file breaks one MUST; the tools see it without the dataset, and with it.
ALONE = [
    ("an image both as support and as query",
     episodes("leak.h5", query=[[20, 30, 23, 13], [29, 39, 21, 31]]),
     "episode 0 uses image 13 both as support and as query"),
    ("an image twice in the support",
     episodes("twice_support.h5", support=[[0, 10, 3, 13], [9, 9, 1, 11]]),
     "episode 1 uses image 9 twice in the support"),
    ("an image twice in the query",
     episodes("twice_query.h5", query=[[20, 30, 23, 33], [29, 39, 31, 31]]),
     "episode 1 uses image 31 twice in the query"),
    ("a class twice in one episode",
     episodes("class_twice.h5", attrs={"n_way": 2, "k_shot": 1, "n_query": 1}, classes=[[0, 0]],
              support=[[0, 10]], query=[[20, 30]]),
     "episode 0 lists class 0 twice"),
    ("an upper-case dataset_fingerprint",
     episodes("upper.h5", attrs={"dataset_fingerprint": FP.upper()}),
     f'dataset_fingerprint "{FP.upper()}" is not 16 lowercase hex digits'),
    ("a 15-digit dataset_fingerprint",
     episodes("short_fp.h5", attrs={"dataset_fingerprint": FP[1:]}),
     "is not 16 lowercase hex digits"),
    ("a too-small dataset_size",
     episodes("small_size.h5", attrs={"dataset_size": 35}),
     "dataset_size is 35 but /query holds image index 39"),
    ("a negative image index",
     episodes("negative.h5", support=[[0, 10, 3, 13], [9, -19, 1, 11]]),
     "/support holds image index -19"),
    ("a negative class",
     episodes("negative_class.h5", classes=[[0, -3], [9, 1]]),
     "/classes holds class -3"),
    ("within_group neither 0 nor 1",
     episodes("wg2.h5", attrs={"within_group": 2}),
     "attribute within_group is 2; expected 0 or 1"),
    ("embedded images changed after writing (stale fingerprint)",
     episodes("stale.h5", embed=True, edit_embedded="after"),
     "the embedded images hash to"),
    ("an upper-case /embedded fingerprint",
     episodes("emb_upper.h5", embed=True, embedded_fp="ABCDEF0123456789"),
     'fingerprint of /embedded "ABCDEF0123456789" is not 16 lowercase hex digits'),
    ("count disagreeing with the arrays",
     episodes("count.h5", attrs={"count": 3}),
     "attribute count is 3 but /classes holds 2 episodes"),
]
for what, file, words in ALONE:
    refused(what, ["info", file], file, words)
    refused(what, ["show", file], file, words)  # the break, not "no images found"
    if file != "small_size.h5":  # with the dataset, this one is named by the size check below
        refused(what, ["info", file, "--dataset", "mini.h5"], file, words)
        refused(what, ["show", file, "--dataset", "mini.h5"], file, words)

# Breaks that only the dataset shows.
WITH_DATASET = [
    ("a too-small dataset_size, dataset given",
     "small_size.h5", "dataset_size is 35 but mini.h5, whose fingerprint it records, has 70"),
    ("embedded images that differ from the dataset's (fingerprint matching them)",
     episodes("emb_wrong.h5", embed=True, edit_embedded="before"),
     "embedded image 1 (dataset index 1) differs from that image of mini.h5"),
    ("embedded images that differ from the dataset's (no fingerprint)",
     episodes("emb_wrong_nofp.h5", embed=True, embedded_fp=False, edit_embedded="before"),
     "embedded image 1 (dataset index 1) differs from that image of mini.h5"),
    ("within_group 1 with classes of two groups",
     episodes("wg_mixed.h5", attrs={"within_group": 1}),
     'within_group is 1 but episode 1 has classes of groups "b" and "a" of mini.h5'),
    ("an image under a class it does not belong to",
     episodes("mislabelled.h5", query=[[20, 30, 23, 33], [28, 39, 21, 31]]),
     "episode 1 lists image 28 under class 9 but its label in mini.h5 is 8"),
]
for what, file, words in WITH_DATASET:
    refused(what, ["info", file, "--dataset", "mini.h5"], file, words)
    refused(what, ["show", file, "--dataset", "mini.h5"], file, words)
with h5py.File("other.h5", "w") as f:  # another dataset: one pixel differs
    with h5py.File("mini.h5", "r") as g:
        for key in g:
            g.copy(key, f)
        for key, value in g.attrs.items():
            f.attrs[key] = value
    f["images"][0, 0, 0, 0] = images[0, 0, 0, 0] ^ 1
refused("another dataset", ["info", "good.h5", "--dataset", "other.h5"], "other.h5",
        "not the dataset the episodes of good.h5 were drawn from")

# An upper-case fingerprint attribute in a dataset file is misspelled, not a mismatch.
shutil.copy("mini.h5", "mini_upper.h5")
with h5py.File("mini_upper.h5", "a") as f:
    f.attrs["fingerprint"] = FP.upper()
refused("an upper-case dataset fingerprint attribute", ["info", "mini_upper.h5"], "mini_upper.h5",
        f'fingerprint attribute "{FP.upper()}" is not 16 lowercase hex digits')

# Without the dataset, a copy that is wrong from the start and carries a fingerprint of its
# own cannot be told from a right one (man 5 fsh-episodes says so): accepted alone.
accepted("embedded images wrong from the start, dataset not given", ["info", "emb_wrong.h5"])

# No seed attribute: not known, so not shown as 0; no part attribute likewise.
noseed = episodes("noseed.h5", drop=("seed",))
text = accepted("a file without seed", ["info", noseed]).stdout.decode()
check("seed (not recorded)" in text and "seed 0" not in text.split("made by")[0],
      "info says 'seed (not recorded)' for a file without a seed attribute")
js = json.loads(run("info", "--json", noseed).stdout)
check(js["seed"] is None and js["part"] is None and js["within_group"] is False,
      "info --json: seed and part null when not recorded, within_group false when absent")
js = json.loads(run("info", "--json", good).stdout)
check(js["seed"] == 5, "info --json: a recorded seed is shown")

print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
