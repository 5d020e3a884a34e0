#!/usr/bin/python3
"""Few-shot on image files, checked independently of fsh's code with h5py, numpy and PIL:
- the classifier fsh-adapt makes from a folder holding an episode's support images is, array
  for array and bit for bit, the one it makes for that episode from the episodes file;
- the folder classifier's file follows man 5 fsh-adapted (class names, source size, the
  /config input attributes, the model's mean brightness computed here from the dataset);
- fsh-eval --images prints, for every PNG, the softmax of the logits of the network that
  man 5 fsh-adapted describes, evaluated here in numpy on the pixels PIL reads;
- a minimal version-2 file written here from the man page, without the optional fields, is
  classified too (class numbers as names; --no-invert needed, since it does not say).
Exit 77 (skip) without h5py, numpy or PIL."""
import os
import shutil
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
    from PIL import Image
except ImportError:
    print("h5py/numpy/PIL not available for /usr/bin/python3: skipping", file=sys.stderr)
    sys.exit(77)

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(*args, stdin=None):
    r = subprocess.run(list(args), capture_output=True, text=True, input=stdin)
    if r.returncode != 0:
        sys.exit(f"FAILED: {' '.join(args)}\n{r.stderr}")
    return r.stdout


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def conv3x3_pad1(x, w, b):
    """x (C, H, W), w (K, C, 3, 3), b (K,) -> (K, H, W), in float64."""
    C, H, W = x.shape
    xp = np.zeros((C, H + 2, W + 2))
    xp[:, 1:-1, 1:-1] = x
    out = np.zeros((w.shape[0], H, W))
    for i in range(3):
        for j in range(3):
            out += np.einsum("kc,chw->khw", w[:, :, i, j], xp[:, i:i + H, j:j + W])
    return out + b[:, None, None]


def logits_of(f, e, x):
    """The network of man 5 fsh-adapted (episode e of open file f) on x (C, H, W) in [0, 1]."""
    depth = int(f["config"].attrs["depth"])
    for i in range(depth):
        W = np.asarray(f[f"base/conv{i}.weight"], np.float32)
        B = np.asarray(f[f"base/conv{i}.bias"], np.float32)
        if f"episodes/conv{i}.weight" in f:
            W = np.asarray(f[f"episodes/conv{i}.weight"][e], np.float32)
            B = np.asarray(f[f"episodes/conv{i}.bias"][e], np.float32)
        scale = np.asarray(f[f"episodes/conv{i}.scale"][e], np.float32)
        shift = np.asarray(f[f"episodes/conv{i}.shift"][e], np.float32)
        w = (W * scale[:, None, None, None]).astype(np.float32)  # float32 product
        b = (B.astype(np.float64) * scale + shift).astype(np.float32)  # double, then float32
        y = np.maximum(conv3x3_pad1(x, w.astype(np.float64), b.astype(np.float64)), 0)
        K, H, Wd = y.shape
        x = y[:, :H // 2 * 2, :Wd // 2 * 2].reshape(K, H // 2, 2, Wd // 2, 2).max(axis=(2, 4))
    feat = x.reshape(-1)
    hw = np.asarray(f["episodes/head.weight"][e], np.float64)
    hb = np.asarray(f["episodes/head.bias"][e], np.float64)
    return hw @ feat + hb


def softmax(l):
    z = np.exp(l - l.max())
    return z / z.sum()


def read_tsv(s):
    rows = [line.split("\t") for line in s.strip().split("\n")]
    return rows[0], rows[1:]


with tempfile.TemporaryDirectory() as d:
    os.chdir(d)
    run("fsh-episodes", "synth", "--classes", "30", "--instances", "10", "--seed", "6",
        "-o", "glyphs.h5", "-q")
    run("fsh-episodes", "split", "glyphs.h5", "--by", "class", "--fraction", "0.5,0,0.5",
        "-o", "split.h5", "-q")
    run("fsh-train", "--data", "split.h5", "-N", "8", "-K", "1", "-Q", "3", "-n", "30",
        "--hidden", "8", "--val-every", "0", "-o", "model.h5", "-q")
    run("fsh-episodes", "sample", "split.h5", "--part", "test", "-N", "3", "-K", "2", "-Q", "4",
        "--count", "2", "--seed", "3", "-o", "test.h5", "-q")
    run("fsh-adapt", "-m", "model.h5", "-e", "test.h5", "-o", "all.h5", "-q")
    E = 1
    run("fsh-episodes", "export", "test.h5", "--episode", str(E), "-o", "ep")
    run("fsh-adapt", "-m", "model.h5", "--support", "ep/support", "-o", "one.h5", "-q")

    with h5py.File("all.h5", "r") as a, h5py.File("one.h5", "r") as o, \
            h5py.File("split.h5", "r") as s, h5py.File("test.h5", "r") as t:
        # 1. Bit for bit the same classifier.
        same = True
        for name in list(a["base"].keys()):
            same &= np.asarray(a["base"][name]).tobytes() == np.asarray(o["base"][name]).tobytes()
        for name, ds in a["episodes"].items():
            if name == "class_names":
                continue
            same &= np.asarray(ds[E]).tobytes() == np.asarray(o["episodes"][name][0]).tobytes()
        check(same, "folder classifier == episode classifier, every array bit for bit")
        # 2. The optional fields, as the man page says.
        names = sorted(os.listdir("ep/support"))
        check([text(n) for n in o["episodes/class_names"][()]] == names,
              f"/episodes/class_names are the class folders in byte order ({names})")
        dsnames = [text(n) for n in t["class_names"][()]]
        classes = t["classes"][E]
        want = [dsnames[c] for c in classes]
        check([text(n) for n in a["episodes/class_names"][()]][3 * E:3 * E + 3] == want,
              "episode-adapted file names each episode's classes [E*N]")
        check(int(o["episodes"].attrs["source_height"]) == 28
              and int(o["episodes"].attrs["source_width"]) == 28, "source size 28x28")
        check(int(o["episodes"].attrs["k_shot"]) == 2 and int(o["episodes"].attrs["n_query"]) == 0
              and int(o["episodes"].attrs["count"]) == 1, "one 3-way 2-shot classifier, no queries")
        cfg = o["config"].attrs
        check(int(cfg["input_inverted"]) == 0 and text(cfg["input_resize"]) == "none",
              "synthesized training data: not inverted, drawn at size")
        mean = np.asarray(s["images"], np.float64).mean() / 255
        check(abs(float(cfg["input_mean"]) - mean) < 1e-12,
              f"input_mean is the training dataset's mean brightness ({mean:.6f})")

    # 3. Probabilities: numpy's forward pass of the file on PIL's pixels.
    header, rows = read_tsv(run("fsh-eval", "-a", "one.h5", "--images", "ep/query", "--top", "3"))
    check(header == ["path", "class", "probability", "class_2", "probability_2", "class_3",
                     "probability_3"], "TSV header with --top 3")
    check(len(rows) == 12, "12 query images classified")
    worst, agree = 0.0, True
    with h5py.File("one.h5", "r") as f:
        cls = [text(n) for n in f["episodes/class_names"][()]]
        for r in rows:
            x = np.asarray(Image.open(r[0]), np.float64)[None] / 255.0
            p = softmax(logits_of(f, 0, x))
            order = sorted(range(3), key=lambda c: -p[c])
            agree &= [r[1], r[3], r[5]] == [cls[c] for c in order]
            for k in range(3):
                worst = max(worst, abs(float(r[2 + 2 * k]) - p[order[k]]))
    check(agree, "TSV classes ranked as numpy's probabilities rank them")
    check(worst < 1e-5, f"TSV probabilities = numpy softmax (largest difference {worst:.2e})")

    # 4. A minimal version-2 file from the man page alone: no optional fields.
    with h5py.File("one.h5", "r") as src, h5py.File("min.h5", "w") as out:
        out.attrs["fsh_format"] = "fsh-adapted"
        out.attrs["fsh_format_version"] = np.int64(2)
        c = out.create_group("config")
        for k in ("method", "bn", "backbone"):
            c.attrs[k] = text(src["config"].attrs[k])
        for k in ("in_channels", "height", "width", "hidden", "depth"):
            c.attrs[k] = np.int64(src["config"].attrs[k])
        c.attrs["bn_eps"] = np.float64(src["config"].attrs["bn_eps"])
        c.create_group("settings")
        e = out.create_group("episodes")
        for k in ("count", "n_way", "k_shot", "n_query", "first"):
            e.attrs[k] = np.int64(src["episodes"].attrs[k])
        e.attrs["seed"] = np.uint64(0)
        e.attrs["dataset_fingerprint"] = "0000000000000000"
        for name in src["base"]:
            out[f"base/{name}"] = np.asarray(src["base"][name], np.float32)
        for name in src["episodes"]:
            if name != "class_names":
                out[f"episodes/{name}"] = np.asarray(src["episodes"][name], np.float32)
    r = subprocess.run(["fsh-eval", "-a", "min.h5", "--images", "ep/query"], capture_output=True,
                       text=True)
    check(r.returncode == 2 and "--no-invert" in r.stderr,
          "a file that does not say how its images were prepared asks for --invert/--no-invert")
    _, mrows = read_tsv(run("fsh-eval", "-a", "min.h5", "--images", "ep/query", "--no-invert",
                            "--top", "3"))
    check([m[0] for m in mrows] == [r[0] for r in rows]
          and all(m[1] == str(cls.index(r[1])) and m[2] == r[2] for m, r in zip(mrows, rows)),
          "without class names: class numbers, same probabilities")

print(f"{len(failures)} failures")
sys.exit(1 if failures else 0)
