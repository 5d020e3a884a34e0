#!/usr/bin/python3
"""The episode draw of man 5 fsh-episodes (THE DRAW) is specified completely: this test
implements it from the man page's text alone (Python integers for the 64-bit arithmetic, numpy
for the arrays), with no fsh code, and checks that `fsh-episodes sample` writes exactly the
episodes it predicts, for several seeds (0, small, 2^64-1), shapes, parts, shards (--first),
Q = 0 and within-group episodes, on datasets written here with h5py. It also checks the man
page's test vectors and that the refusals the page lists (N above the eligible classes, no
group with N classes, a class with fewer than K+Q images) are refused with exit status 2.
Exit 77 (skip) without h5py."""
import atexit
import os
import re
import shutil
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


# ---- THE DRAW, from man 5 fsh-episodes ----------------------------------------------------
MASK = (1 << 64) - 1


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


class SplitMix64:
    """splitmix64: a state word x that each call updates."""

    def __init__(self, x):
        self.x = x & MASK

    def __call__(self):
        self.x = (self.x + 0x9E3779B97F4A7C15) & MASK
        z = self.x
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)


class Xoshiro256ss:
    """The generator seeded with v: s0..s3 are four successive splitmix64 results from x = v."""

    def __init__(self, v):
        sm = SplitMix64(v)
        self.s = [sm(), sm(), sm(), sm()]

    def output(self):
        s0, s1, s2, s3 = self.s
        result = (rotl((s1 * 5) & MASK, 7) * 9) & MASK
        t = (s1 << 17) & MASK
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        self.s = [s0, s1, s2, s3]
        return result

    def below(self, n):
        bound = (1 << 64) - ((1 << 64) % n)
        while True:
            r = self.output()
            if r < bound:
                return r % n

    def choose(self, n, k):
        pool = list(range(n))
        for i in range(k):
            j = i + self.below(n - i)
            pool[i], pool[j] = pool[j], pool[i]
        return pool[:k]


def stream(seed, a, b=0):
    sm = SplitMix64(seed)
    h = sm()
    sm.x = h ^ ((a * 0xD1342543DE82EF95) & MASK)
    h = sm()
    sm.x = h ^ ((b * 0x9FB21C651E98DF25) & MASK)
    return Xoshiro256ss(sm())


class Refused(Exception):
    pass


def draw(labels, class_group, class_part, n_classes, part, n, k, q, seed, first, count,
         within_group):
    """Steps 1-4 of 'The episodes'; returns (classes, support, query) or raises Refused."""
    value = {"train": 0, "val": 1, "test": 2}
    if class_part is None:  # not a split: every class (only part "all" is allowed)
        eligible = list(range(n_classes))
    elif part == "all":
        eligible = [c for c in range(n_classes) if class_part[c] != -1]
    else:
        eligible = [c for c in range(n_classes) if class_part[c] == value[part]]
    members = {c: [i for i in range(len(labels)) if labels[i] == c] for c in eligible}
    if n > len(eligible) or any(len(members[c]) < k + q for c in eligible):
        raise Refused()
    groups = []
    if within_group:
        for g in range(max(class_group) + 1):
            of_g = [c for c in eligible if class_group[c] == g]
            if len(of_g) >= n:
                groups.append(of_g)
        if not groups:
            raise Refused()
    classes, support, query = [], [], []
    for e in range(first, first + count):
        r = stream(seed, e, 0)
        pool = groups[r.below(len(groups))] if within_group else eligible
        p = r.choose(len(pool), n)
        row_c = [pool[i] for i in p]
        row_s, row_q = [0] * (n * k), [0] * (n * q)
        for c in range(n):
            m = members[row_c[c]]
            chosen = r.choose(len(m), k + q)
            for kk in range(k):
                row_s[c * k + kk] = m[chosen[kk]]
            for j in range(q):
                row_q[c * q + j] = m[chosen[k + j]]
        classes.append(row_c)
        support.append(row_s)
        query.append(row_q)
    return (np.array(classes, np.int64).reshape(count, n),
            np.array(support, np.int64).reshape(count, n * k),
            np.array(query, np.int64).reshape(count, n * q))


# ---- The test vectors printed in the man page ----------------------------------------------
MAN = os.path.join(os.environ.get("FSH_SOURCE_DIR",
                                  os.path.join(os.path.dirname(__file__), "..", "..")),
                   "man", "man5", "fsh-episodes.5")
with open(MAN) as f:
    page = f.read()
vectors = page[page.index(".SS Test vectors"):]
vectors = vectors[:vectors.index(".SH ")]
sm = SplitMix64(0)
got = "0x%016x" % sm(), "0x%016x" % sm()
check(f"gives {got[0]}, then {got[1]}" in vectors, f"man page splitmix64 vector: {got}")
r = stream(1, 0, 0)
outs = "0x%016x" % r.output(), "0x%016x" % r.output()
r = stream(1, 0, 0)
ch = r.choose(10, 4)
m = re.search(r"stream\(1, 0, 0\) outputs first (0x[0-9a-f]+), then (0x[0-9a-f]+);\s*"
              r"with it, choose\(10, 4\) gives \[([0-9, ]+)\]", vectors)
check(m is not None and m.group(1, 2) == outs
      and [int(x) for x in m.group(3).split(",")] == ch,
      f"man page stream vectors: outputs {outs}, choose(10, 4) = {ch}")

# ---- Datasets written with h5py --------------------------------------------------------------
WORK = tempfile.mkdtemp()
atexit.register(shutil.rmtree, WORK, True)
os.chdir(WORK)
rng = np.random.default_rng(11)

# 40 classes in 6 groups of uneven size, 8..20 images each (so choose() sees many n), the
# images in a shuffled order (members are not contiguous), every part present and some -1.
group_sizes = [3, 12, 5, 9, 1, 10]
class_group = np.repeat(np.arange(len(group_sizes)), group_sizes).astype(np.int32)
N_CLASSES = len(class_group)
per_class = rng.integers(8, 21, N_CLASSES)
labels = rng.permutation(np.repeat(np.arange(N_CLASSES), per_class)).astype(np.int32)
class_part = rng.choice(np.array([-1, 0, 0, 0, 1, 2, 2], np.int8), N_CLASSES)
M = len(labels)
images = rng.integers(0, 256, (M, 5, 5, 1), dtype=np.uint8)


def write_dataset(path, split):
    with h5py.File(path, "w") as f:
        f.attrs["fsh_format"] = "fsh-split" if split else "fsh-dataset"
        f.attrs["fsh_format_version"] = 1
        f["images"] = images
        f["labels"] = labels
        s = h5py.string_dtype()
        f.create_dataset("class_names", data=[f"g{class_group[c]}/c{c}" for c in range(N_CLASSES)],
                         dtype=s)
        f["class_group"] = class_group
        f.create_dataset("group_names", data=[f"g{g}" for g in range(len(group_sizes))], dtype=s)
        if split:
            f["class_part"] = class_part


write_dataset("split.h5", True)
write_dataset("plain.h5", False)
parts_present = {p: int((class_part == v).sum()) for p, v in (("train", 0), ("val", 1),
                                                               ("test", 2))}
print("classes per part:", parts_present, "; -1:", int((class_part == -1).sum()))

CASES = [
    # dataset, part, N, K, Q, count, first, seed, within_group
    ("split.h5", "all", 5, 1, 3, 30, 0, 1, False),
    ("split.h5", "train", 3, 2, 2, 25, 0, 0, False),
    ("split.h5", "test", 2, 3, 4, 20, 0, 7, False),
    ("split.h5", "all", 20, 1, 1, 10, 0, (1 << 64) - 1, False),
    ("split.h5", "all", 4, 1, 0, 10, 0, 5, False),
    ("split.h5", "train", 3, 1, 5, 5, 1000000007, 12345, False),
    ("plain.h5", "all", 40, 2, 6, 3, 0, 42, False),
    ("split.h5", "all", 4, 1, 2, 40, 0, 3, True),
    ("split.h5", "train", 2, 1, 3, 30, 17, 99, True),
    ("split.h5", "all", 1, 5, 3, 15, 0, 8, True),
    ("plain.h5", "all", 9, 1, 1, 30, 0, 2**40 + 3, True),
    ("plain.h5", "all", 12, 1, 1, 10, 5, 6, True),
]
for data, part, n, k, q, count, first, seed, within in CASES:
    name = (f"{data} --part {part} -N {n} -K {k} -Q {q} --count {count} --first {first} "
            f"--seed {seed}" + (" --within-group" if within else ""))
    cmd = [TOOL, "sample", data, "--part", part, "-N", str(n), "-K", str(k), "-Q", str(q),
           "--count", str(count), "--first", str(first), "--seed", str(seed), "-o", "ep.h5"]
    if within:
        cmd.append("--within-group")
    p = subprocess.run(cmd, capture_output=True)
    if p.returncode != 0:
        check(False, f"{name}: fsh-episodes failed: {p.stderr.decode().strip()}")
        continue
    exp_c, exp_s, exp_q = draw(labels, class_group, class_part if data == "split.h5" else None,
                               N_CLASSES, part, n, k, q, seed, first, count, within)
    with h5py.File("ep.h5", "r") as f:
        same = (np.array_equal(f["classes"][()], exp_c) and np.array_equal(f["support"][()], exp_s)
                and np.array_equal(f["query"][()], exp_q))
        attrs_ok = (int(f.attrs["seed"]) == seed and int(f.attrs["first"]) == first
                    and int(f.attrs.get("within_group", 0)) == int(within))
    if within:
        same &= all(len(set(class_group[row])) == 1 for row in exp_c)
    check(same and attrs_ok, f"{name}: the file holds the episodes the man page predicts")

# Refusals the man page lists: exit status 2, and the specification agrees nothing is drawn.
REFUSED = [
    ("split.h5", "train", parts_present["train"] + 1, 1, 1, False, "exceeds the"),
    ("split.h5", "all", max(group_sizes) + 1, 1, 1, True, "within-group episodes need a group"),
    ("plain.h5", "all", 2, 4, int(per_class.min()) - 3, False, "K+Q ="),
]
for data, part, n, k, q, within, words in REFUSED:
    cmd = [TOOL, "sample", data, "--part", part, "-N", str(n), "-K", str(k), "-Q", str(q),
           "-o", "refused.h5"] + (["--within-group"] if within else [])
    p = subprocess.run(cmd, capture_output=True)
    try:
        draw(labels, class_group, class_part if data == "split.h5" else None, N_CLASSES, part,
             n, k, q, 1, 0, 1, within)
        predicted = False
    except Refused:
        predicted = True
    check(predicted and p.returncode == 2 and words.encode() in p.stderr
          and not os.path.exists("refused.h5"),
          f"refused, exit 2: {' '.join(cmd[2:])}: {p.stderr.decode().strip()}")

print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
