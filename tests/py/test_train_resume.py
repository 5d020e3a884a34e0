#!/usr/bin/python3
"""fsh-train resume: 10 episodes + --resume + 10 more equals 20 straight, bit for bit
(parameters, optimizer state, episode counter), read back with h5py, independently of fsh's
reader. Also: SIGINT during training writes a last checkpoint that resumes, and the exit code
says the run was interrupted."""
import os
import signal
import subprocess
import sys
import tempfile
import time

try:
    import h5py
    import numpy as np
except ImportError:
    print("skipped: h5py/numpy not available for /usr/bin/python3")
    sys.exit(77)


def run(*args, **kw):
    r = subprocess.run(list(args), capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"FAILED: {' '.join(args)}\n{r.stderr}")
    return r


def arrays(path):
    with h5py.File(path, "r") as f:
        out = {}
        for group in ("params", "optimizer"):
            for name, ds in f[group].items():
                out[f"{group}/{name}"] = ds[()]
        out["episode"] = f["state"].attrs["episode"]
        out["opt_step"] = f["optimizer"].attrs["step"]
        return out


with tempfile.TemporaryDirectory() as d:
    os.chdir(d)
    run("fsh-episodes", "synth", "--classes", "30", "--seed", "3", "-o", "glyphs.h5", "-q")
    run("fsh-episodes", "split", "glyphs.h5", "--by", "class", "--fraction", "0.7,0.3",
        "-o", "split.h5", "-q")
    common = ["fsh-train", "--data", "split.h5", "-N", "5", "-K", "1", "-Q", "2",
              "--hidden", "16", "--val-every", "0", "--threads", "1", "--seed", "5", "-q",
              "--lr-step", "7"]
    run(*common, "-n", "20", "-o", "straight.h5")
    run(*common, "-n", "10", "-o", "half.h5")
    run(*common, "-n", "20", "--resume", "half.h5", "-o", "resumed.h5")
    a, b = arrays("straight.h5"), arrays("resumed.h5")
    assert a.keys() == b.keys(), (a.keys(), b.keys())
    for k in a:
        assert np.array_equal(a[k], b[k]), f"{k} differs after resume"
    assert a["episode"] == 20 and a["opt_step"] == 20
    h = arrays("half.h5")
    assert not np.array_equal(h["params/conv0.weight"], a["params/conv0.weight"])
    print("resume: 10 + 10 == 20 straight, bit for bit")

    # SIGINT: a last checkpoint is written, the exit code is 128 + SIGINT, and it resumes.
    p = subprocess.Popen(common + ["-n", "100000", "-o", "int.h5"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 128 + signal.SIGINT, (p.returncode, err)
    c = arrays("int.h5")
    assert 0 < c["episode"] < 100000, c["episode"]
    assert not [f for f in os.listdir(".") if ".tmp" in f], os.listdir(".")
    n = int(c["episode"]) + 2
    run(*common, "-n", str(n), "--resume", "int.h5", "-o", "int2.h5")
    assert arrays("int2.h5")["episode"] == n
    print(f"SIGINT: checkpoint at episode {c['episode']}, resumed to {n}")
