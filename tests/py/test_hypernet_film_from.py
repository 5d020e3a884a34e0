#!/usr/bin/python3
"""hypernet's film_from setting (FiLM from a given block on), end to end with h5py as the
independent reader: fsh-train --film-from 1 stores the setting and a FiLM layer for the last
depth-1 blocks only (its shapes checked here from the man page's layout, 2·(depth-1)·K rows),
and a model file written before the setting existed (the same file with the attribute deleted)
is still read, meaning FiLM on every block: fsh-adapt gives the same bytes for it as for the
file that says film_from 0; and a film_from that is not a block is refused in one line."""
import os
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
except ImportError:
    print("skipped: h5py/numpy not available for /usr/bin/python3")
    sys.exit(77)


def run(*args, ok=(0,)):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=300)
    if r.returncode not in ok:
        sys.exit(f"FAILED ({r.returncode}): {' '.join(args)}\n{r.stdout}\n{r.stderr}")
    return r


HIDDEN = 8
with tempfile.TemporaryDirectory() as d:
    os.chdir(d)
    run("fsh-episodes", "synth", "--classes", "30", "--instances", "6", "--seed", "3",
        "-o", "glyphs.h5", "-q")
    run("fsh-episodes", "sample", "glyphs.h5", "--part", "all", "-N", "3", "-K", "1", "-Q", "2", "--count", "4",
        "--seed", "2", "-o", "test.h5", "-q")
    common = ["--method", "hypernet", "--data", "glyphs.h5", "--part", "all", "-N", "3", "-K", "1", "-Q", "2",
              "-n", "6", "--hidden", str(HIDDEN), "--val-part", "none", "--seed", "1", "-q"]
    run("fsh-train", *common, "--film-from", "1", "-o", "late.h5")
    run("fsh-train", *common, "-o", "every.h5")
    with h5py.File("late.h5", "r") as f:
        assert int(f["config/settings"].attrs["film_from"]) == 1
        depth = int(f["config"].attrs["depth"])
        assert f["params/film.weight"].shape[0] == 2 * (depth - 1) * HIDDEN, \
            f["params/film.weight"].shape
    with h5py.File("every.h5", "r") as f:
        assert int(f["config/settings"].attrs["film_from"]) == 0
        assert f["params/film.weight"].shape[0] == 2 * depth * HIDDEN
    # A file from before the setting: the attribute deleted.
    run("cp", "every.h5", "old.h5")
    with h5py.File("old.h5", "r+") as f:
        del f["config/settings"].attrs["film_from"]
    run("fsh-adapt", "-m", "every.h5", "-e", "test.h5", "-o", "a-every.h5", "-q")
    run("fsh-adapt", "-m", "old.h5", "-e", "test.h5", "-o", "a-old.h5", "-q")
    def datasets(path):
        out = {}
        with h5py.File(path, "r") as f:
            def visit(n, o):
                if isinstance(o, h5py.Dataset) and not n.startswith("provenance"):
                    v = np.asarray(o[()])
                    # bits, not values; variable-length strings as their values
                    out[n] = v.tolist() if v.dtype.kind == "O" else v.tobytes()
            f.visititems(visit)
        return out
    a, b = datasets("a-every.h5"), datasets("a-old.h5")
    assert "episodes/head.weight" in a and a.keys() == b.keys(), sorted(a.keys() ^ b.keys())
    for k in a:
        assert a[k] == b[k], k
    # Out of range for a depth-4 backbone: one line naming the value.
    r = run("fsh-train", *common, "--film-from", "4", "-o", "bad.h5", ok=(2,))
    err = r.stderr.strip()
    assert "\n" not in err and "film_from" in err and "4" in err, err
    assert not os.path.exists("bad.h5")
print("ok: film_from stored and shaped as documented; old files mean every block")
