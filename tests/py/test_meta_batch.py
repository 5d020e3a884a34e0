#!/usr/bin/python3
"""fsh-train --meta-batch: with 4 episodes per step, 20 optimizer steps with --threads 1 and
--threads 2 give identical parameters and optimizer state (read with h5py, independently of
fsh's reader); the checkpoint records 80 episodes, 20 steps and meta_batch 4; and a
meta-batch really changes training (it differs from --meta-batch 1 over the same episodes)."""
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


def run(*args):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"FAILED: {' '.join(args)}\n{r.stderr}")
    return r


def arrays(path):
    with h5py.File(path, "r") as f:
        out = {f"params/{k}": v[()] for k, v in f["params"].items()}
        out.update({f"optimizer/{k}": v[()] for k, v in f["optimizer"].items()})
        meta = (int(f["state"].attrs["episode"]), int(f["optimizer"].attrs["step"]),
                int(f["train"].attrs["meta_batch"]))
        return out, meta


with tempfile.TemporaryDirectory() as d:
    os.chdir(d)
    run("fsh-episodes", "synth", "--classes", "30", "--seed", "3", "-o", "glyphs.h5", "-q")
    run("fsh-episodes", "split", "glyphs.h5", "--by", "class", "--fraction", "0.7,0.3",
        "-o", "split.h5", "-q")
    common = ["fsh-train", "--data", "split.h5", "-N", "5", "-K", "1", "-Q", "3",
              "--hidden", "16", "--val-every", "0", "--seed", "9", "-q", "-n", "80"]
    run(*common, "--meta-batch", "4", "--threads", "1", "-o", "t1.h5")
    run(*common, "--meta-batch", "4", "--threads", "2", "-o", "t2.h5")
    run(*common, "--meta-batch", "1", "--threads", "2", "-o", "mb1.h5")
    (a, ma), (b, mb), (c, mc) = arrays("t1.h5"), arrays("t2.h5"), arrays("mb1.h5")
    assert ma == (80, 20, 4), ma
    assert mb == ma
    assert mc == (80, 80, 1), mc
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), f"{k} differs between 1 and 2 threads"
    assert not np.array_equal(a["params/conv0.weight"], c["params/conv0.weight"])
    print("meta-batch 4: 20 steps with 1 and 2 threads identical, bit for bit; "
          "differs from meta-batch 1")
