#!/usr/bin/python3
"""fsh-train under mpirun: data-parallel meta-training gives, bit for bit, the checkpoint of one
process. For every method fsh-train lists, on built-in data with a meta-batch that not every
process count divides: the run without mpirun and `mpirun -np 1, 2, 3, 4` (oversubscribed on a
small machine) write identical checkpoints (every dataset and attribute, read with h5py, not
fsh: parameters, optimizer state, episode counters, best validation), identical
best-validation models and identical loss/accuracy figures in the log. Then: --resume under MPI
with another process count continues exactly; --max-time and SIGTERM (to mpirun, and to one
rank alone) stop every rank after the same step with the checkpoint one process writes at that
step. Skips (77) when the build has no MPI or mpirun is missing."""
import json
import os
import shutil
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
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from h5_contents import contents, identical  # noqa: E402

version = subprocess.run(["fsh-train", "--version"], capture_output=True, text=True).stdout
if "MPI: not built in" in version or "MPI:" not in version:
    print("skipped: this build has no MPI (fsh-train --version); install libopenmpi-dev and "
          "reconfigure to test data-parallel training")
    sys.exit(77)
mpirun = shutil.which("mpirun")
if not mpirun:
    print("skipped: fsh is built with MPI but mpirun is not on PATH (Debian: openmpi-bin)")
    sys.exit(77)

env = dict(os.environ)
if os.geteuid() == 0:  # Open MPI refuses root unless told twice
    env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
# More processes than cores on a small machine; the shared-memory transport only.
MPI = [mpirun, "--oversubscribe", "--bind-to", "none", "--mca", "btl", "self,vader"]

start = time.time()


def run(*args, ok=(0,)):
    r = subprocess.run(list(args), capture_output=True, text=True, env=env, timeout=120)
    if r.returncode not in ok:
        sys.exit(f"FAILED ({r.returncode}): {' '.join(args)}\n{r.stdout}\n{r.stderr}")
    return r


def mpi(p, *args, **kw):
    return run(*MPI, "-np", str(p), *args, **kw)


def same_file(a, b, what, skip=()):
    x, y = contents(a), contents(b)
    assert x.keys() == y.keys(), f"{what}: {sorted(x.keys() ^ y.keys())}"
    for k in x:
        assert k in skip or identical(x[k], y[k]), f"{what}: {k} differs"
    return x


def setting(flags, option, value):
    """flags with option's value replaced."""
    i = flags.index(option)
    return flags[:i + 1] + [value] + flags[i + 2:]


def figures(log):
    """The log's loss and accuracy figures (not its rates and times)."""
    rows = [json.loads(l) for l in open(log)]
    return [(r["kind"], r["episode"], r["loss"], r["accuracy"], r["ci95"], r["lr"]) for r in rows]


with tempfile.TemporaryDirectory() as d:
    os.chdir(d)
    run("fsh-episodes", "synth", "--classes", "30", "--instances", "6", "--seed", "3",
        "-o", "glyphs.h5", "-q")
    run("fsh-episodes", "split", "glyphs.h5", "--by", "class", "--fraction", "0.6,0.2,0.2",
        "-o", "split.h5", "-q")
    help_text = run("fsh-train", "--help").stdout
    methods = [m for m in ("protonet", "hypernet", "maml") if m in help_text]
    assert "protonet" in methods, help_text

    # 14 episodes in meta-batches of 4: steps of 4, 4, 4 and a last one of 2, which divide
    # among 3 processes as 2+1+1 and 1+1+0, and among 4 as 1+1+1+1 and 1+1+0+0 (idle ranks).
    # Validation at episodes 8 and 14 (divided among the ranks too), a periodic checkpoint.
    common = ["--data", "split.h5", "-K", "1", "-Q", "2", "--hidden", "8", "-n", "14",
              "--meta-batch", "4", "--val-every", "8", "--val-episodes", "5", "--val-query", "2",
              "--checkpoint-every", "6", "--seed", "7", "--threads", "1", "--log-every", "4"]
    extra = {"protonet": ["-N", "5"], "hypernet": ["-N", "5", "--generator-width", "8"],
             "maml": ["--inner-steps", "1"]}
    for m in methods:
        flags = ["--method", m] + common + extra[m]
        out = run("fsh-train", *flags, "-o", f"{m}.h5", "--log", f"{m}.log")
        val_lines = [l for l in out.stderr.splitlines() if l.startswith("fsh-train: episode ")]
        assert len(val_lines) >= 2, out.stderr
        ref = contents(f"{m}.h5")
        assert int(ref["state@episode"]) == 14 and int(ref["optimizer@step"]) == 4, \
            (ref.get("state@episode"), ref.get("optimizer@step"))
        for p in (1, 2, 3, 4):
            out = mpi(p, "fsh-train", *flags, "-o", f"{m}-{p}.h5", "--log", f"{m}-{p}.log")
            same_file(f"{m}.h5", f"{m}-{p}.h5", f"{m}, mpirun -np {p}: checkpoint")
            same_file(f"{m}.best.h5", f"{m}-{p}.best.h5", f"{m}, mpirun -np {p}: best model")
            assert figures(f"{m}.log") == figures(f"{m}-{p}.log"), f"{m} -np {p}: log figures"
            got = [l for l in out.stderr.splitlines() if l.startswith("fsh-train: episode ")]
            assert got == val_lines, (m, p, got, val_lines)
            if p > 1:
                assert f"data-parallel over {p} processes" in out.stderr, out.stderr
                assert "bytes per hop" in out.stderr, out.stderr
            # Rank 0 alone speaks: the model line once, whatever p is.
            assert out.stderr.count(f"{m}: ") == 1, out.stderr
            if p == 4:
                # 4 processes for meta-batches of 4: none idle, so no warning; 4 > 2 of the
                # last step is expected and silent.
                assert "wait at every step" not in out.stderr, out.stderr
        print(f"{m}: one process and mpirun -np 1, 2, 3, 4 write identical checkpoints, "
              f"best models and log figures")

    # More processes than the meta-batch: a warning, and still the same bits.
    flags = ["--method", "protonet"] + setting(common, "--meta-batch", "2") + extra["protonet"]
    out = mpi(3, "fsh-train", *flags, "-o", "mb2-3.h5")
    assert "1 of them have no episode" in out.stderr, out.stderr
    run("fsh-train", *flags, "-o", "mb2.h5")
    same_file("mb2.h5", "mb2-3.h5", "meta-batch 2 on 3 processes")

    # --resume under MPI, with another process count than the run it continues.
    m = methods[-1]
    flags = ["--method", m] + common + extra[m]
    mpi(2, "fsh-train", *setting(flags, "-n", "8"), "-o", "half.h5", "--no-best")
    mpi(3, "fsh-train", "--resume", "half.h5", "-n", "14", "-o", "resumed.h5", "--no-best",
        "--threads", "1")
    same_file(f"{m}.h5", "resumed.h5", f"{m}: 8 episodes on 2 processes + resume on 3")
    print(f"{m}: resumed under MPI with another process count, bit for bit")

    # --max-time: rank 0's clock decides; all ranks stop after the same step, and the
    # checkpoint is the one one process writes after that many episodes (-n differs, so the
    # configured total is left out of the comparison).
    flags = ["--method", "protonet", "--data", "split.h5", "-N", "5", "-K", "1", "-Q", "2",
             "--hidden", "8", "--meta-batch", "5", "--val-every", "0", "--seed", "7",
             "--threads", "1", "--no-best"]

    def stopped_like_one_process(path, what):
        e = int(contents(path)["state@episode"])
        assert 0 < e < 1000000 and e % 5 == 0, (what, e)
        run("fsh-train", *flags, "-n", str(e), "-o", "one.h5")
        same_file("one.h5", path, what, skip={"train@episodes"})
        return e

    out = mpi(2, "fsh-train", *flags, "-n", "1000000", "--max-time", "1", "-o", "timed.h5")
    assert "time limit reached" in out.stderr, out.stderr
    e = stopped_like_one_process("timed.h5", "--max-time")
    print(f"--max-time under mpirun -np 2: stopped after episode {e}, as one process would")

    # SIGTERM to mpirun, which passes it to every rank (and kills them a second later):
    # every rank stops after the same step, rank 0 writes the checkpoint.
    def signalled(target, name):
        p = subprocess.Popen(MPI + ["-np", "3", "fsh-train", *flags, "-n", "1000000",
                                    "-o", f"{name}.h5"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        # Until training runs: rank 0 writes the initial checkpoint before the first step.
        deadline = time.time() + 30
        while time.time() < deadline and not os.path.exists(f"{name}.h5"):
            time.sleep(0.2)
        time.sleep(1.0)
        target(p)
        _, err = p.communicate(timeout=60)
        assert "interrupted by signal" in err, (name, p.returncode, err)
        assert p.returncode != 0, (name, err)
        return stopped_like_one_process(f"{name}.h5", name)

    def wait_then(sig, which):
        def target(p):
            if which == "mpirun":
                p.send_signal(sig)
            else:
                # One rank alone (a child of mpirun): its signal stops all of them.
                kids = subprocess.run(["ps", "-o", "pid=", "--ppid", str(p.pid)],
                                      capture_output=True, text=True).stdout.split()
                assert len(kids) == 3, kids
                os.kill(int(kids[-1]), sig)
        return target

    e = signalled(wait_then(signal.SIGTERM, "mpirun"), "term")
    print(f"SIGTERM to mpirun: every rank stopped after episode {e}, as one process would")
    e = signalled(wait_then(signal.SIGTERM, "rank"), "term1")
    print(f"SIGTERM to one rank: every rank stopped after episode {e}, as one process would")

print(f"({time.time() - start:.0f} s)")
