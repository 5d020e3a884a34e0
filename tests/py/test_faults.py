#!/usr/bin/python3
"""Faults (issue 11): the tools fail cleanly when the world does.

1. SIGKILL. fsh-train (checkpoint every episode) is killed with SIGKILL at random moments,
   TRIALS times (seeded, so the moments are the same on every run, up to scheduling). After
   every kill the checkpoint on disk, once there is one, loads (fsh's reader, via `fsh-episodes
   info`, and h5py) and its episode count never goes back; the next trial resumes from it.
   Finally the run is resumed to completion and compared, bit for bit (parameters, optimizer
   state), with the same run never interrupted. Temporaries left by kills that landed inside a
   write are counted: nothing can remove a file when its process is killed with SIGKILL; the
   rename that publishes a checkpoint is what keeps them from ever being mistaken for one.

2. A full disk, simulated with a file-size limit (RLIMIT_FSIZE, as `ulimit -f`; SIGXFSZ
   ignored so the write fails with EFBIG instead of killing the process), for every writer:
   synth, import (folder and Omniglot zip), split, sample, show, train (its checkpoint and its
   log), adapt, eval --predictions. Each must exit 1 with one error line naming the output and
   the cause, leave the previous output byte for byte as it was, and leave no temporary.

3. Divergence. A huge learning rate (1e30) makes the parameters overflow: training stops with
   exit 1 and one line saying so, and the output holds the last good checkpoint -- the initial
   one a fresh run writes, equal to the initial state written by a run stopped by --max-time
   before its first episode. A resumed run that diverges leaves the checkpoint it resumed byte
   for byte as it was.

Exit 77 (skip) without h5py/numpy/PIL."""
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile

try:
    import h5py
    import numpy as np
    from PIL import Image
except ImportError:
    print("h5py/numpy/PIL not available for /usr/bin/python3: skipping", file=sys.stderr)
    sys.exit(77)

for tool in ("fsh-episodes", "fsh-train", "fsh-adapt", "fsh-eval"):
    if shutil.which(tool) is None:
        sys.exit(f"{tool} not on PATH")

TRIALS = 24
SEED = 11
WORK = tempfile.mkdtemp(prefix="fsh-faults-")
os.chdir(WORK)
failures = []
start = time.monotonic()


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def run(*args, **kw):
    p = subprocess.run(list(args), capture_output=True, text=True, **kw)
    if p.returncode != 0:
        sys.exit(f"setup failed: {' '.join(args)}\n{p.stderr}")
    return p


def arrays(path):
    """Parameters, optimizer state and counters of a checkpoint, read with h5py."""
    with h5py.File(path, "r") as f:
        out = {f"params/{k}": v[()] for k, v in f["params"].items()}
        out.update({f"optimizer/{k}": v[()] for k, v in f["optimizer"].items()})
        out["episode"] = int(f["state"].attrs["episode"])
        out["step"] = int(f["optimizer"].attrs["step"])
    return out


def same(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def temporaries():
    return [n for n in os.listdir(".") if ".tmp-" in n]


Q = ["-q", "--no-provenance"]
run("fsh-episodes", "synth", "--classes", "12", "--instances", "6", "--size", "16", *Q,
    "-o", "syn.h5")
run("fsh-episodes", "split", "syn.h5", "--by", "class", "--fraction", "0.5,0.25,0.25", *Q,
    "-o", "split.h5")
TRAIN = ["fsh-train", "--data", "split.h5", "-N", "3", "-K", "1", "-Q", "2", "--hidden", "8",
         "--val-every", "0", "--no-best", "--threads", "1", "--seed", "5", "--lr-step", "7", *Q]

# ---- 1. SIGKILL at random moments ------------------------------------------------------------
rng = random.Random(SEED)
last, kills_in_writes, fresh_starts = -1, 0, 0
for trial in range(TRIALS):
    if os.path.exists("ck.h5"):
        args = ["fsh-train", "--resume", "ck.h5", "-q", "-o", "ck.h5"]
    else:
        args = TRAIN + ["--checkpoint-every", "1", "-n", "1000000", "-o", "ck.h5"]
        fresh_starts += 1
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(rng.uniform(0.0, 1.2))
    p.send_signal(signal.SIGKILL)
    p.wait()
    left = temporaries()
    kills_in_writes += bool(left)
    for name in left:
        os.remove(name)
    if p.returncode != -signal.SIGKILL:  # it failed on its own
        check(False, f"trial {trial}: fsh-train exited {p.returncode} before the kill: "
              + p.stderr.read().decode().strip())
        continue
    if not os.path.exists("ck.h5"):
        # Killed before the initial checkpoint of a fresh run: nothing was ever written.
        check(last < 0, f"trial {trial}: no checkpoint, and none written before")
        continue
    info = subprocess.run(["fsh-episodes", "info", "ck.h5"], capture_output=True, text=True)
    a = arrays("ck.h5")
    ok = info.returncode == 0 and a["episode"] >= last and all(
        np.isfinite(v).all() for k, v in a.items() if k.startswith(("params", "optimizer")))
    check(ok, f"trial {trial}: killed; ck.h5 loads, episode {a['episode']} (before: {last})"
          + ("" if info.returncode == 0 else ": " + info.stderr.strip()))
    last = a["episode"]

check(last >= 1, f"training made progress across the kills (episode {last})")
total = max(last, 0) + 3
run("fsh-train", "--resume", "ck.h5", "-n", str(total), "-q", "-o", "ck.h5")
run(*TRAIN, "--checkpoint-every", "1", "-n", str(total), "-o", "straight.h5")
check(same(arrays("ck.h5"), arrays("straight.h5")),
      f"{TRIALS} kills ({kills_in_writes} inside a write, {fresh_starts} fresh starts), then "
      f"resumed to {total} episodes: bit for bit the run never interrupted")
print(f"SIGKILL trials took {time.monotonic() - start:.1f} s")

# ---- 2. a full disk, for every writer -------------------------------------------------------
run("fsh-episodes", "sample", "split.h5", "--part", "test", "-N", "2", "-K", "1", "-Q", "2",
    "--count", "40", *Q, "-o", "ep.h5")
run(*TRAIN, "-n", "2", "-o", "model.h5")
run("fsh-adapt", "-m", "model.h5", "-e", "ep.h5", *Q, "-o", "adapted.h5")
os.makedirs("tree/a")
os.makedirs("tree/b")
img = np.random.default_rng(1).integers(0, 256, (30, 20, 3), dtype=np.uint8)
for c in "ab":
    for i in range(3):
        Image.fromarray(np.roll(img, i, 0)).save(f"tree/{c}/{i}.png")
with zipfile.ZipFile("omni.zip", "w") as z:
    for c in ("character01", "character02"):
        for i in range(2):
            z.write(f"tree/a/{i}.png", f"images_background/Latin/{c}/{i}.png")


def limited(limit):
    def pre():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    return pre


# (writer, command with {o} for the output, the variant that is run against the limit, what
# the output is, the file whose limit is hit when not the output itself)
WRITERS = [
    ("synth", "fsh-episodes synth --classes 12 --instances 6 --size 16 -q -o {o}", "--seed 2"),
    ("import folder", "fsh-episodes import folder tree --size 16 -q -o {o}", "--channels 3"),
    ("import omniglot", "fsh-episodes import omniglot omni.zip -q -o {o}", "--size 20"),
    ("split", "fsh-episodes split syn.h5 --by class --fraction 0.5,0.5 -q -o {o}", "--seed 2"),
    ("sample", "fsh-episodes sample split.h5 -N 2 -K 1 -Q 1 --count 50 -q -o {o}", "--seed 2"),
    ("show", "fsh-episodes show ep.h5 --dataset split.h5 -o {o}", "--scale 3"),
    ("train", " ".join(TRAIN) + " -n 2 -o {o}", "--lr 0.002"),
    ("adapt", "fsh-adapt -m model.h5 -e ep.h5 -q -o {o}", "--bn transductive"),
    ("eval --predictions", "fsh-eval -a adapted.h5 -e ep.h5 -q --predictions {o}", "--threads 1"),
]
for name, command, variant in WRITERS:
    ext = ".png" if name == "show" else ".tsv" if name.startswith("eval") else ".h5"
    out, probe = "out" + ext, "probe" + ext
    run(*command.replace("{o}", out).split())
    previous, inode = open(out, "rb").read(), os.stat(out).st_ino
    # The variant, unlimited, for its size; then against a limit of half that size.
    changed = (command + " " + variant).split()
    run(*[probe if a == "{o}" else a for a in changed])
    limit = os.path.getsize(probe) // 2
    os.remove(probe)
    before = set(os.listdir("."))
    p = subprocess.run([out if a == "{o}" else a for a in changed], capture_output=True,
                       text=True, preexec_fn=limited(limit))
    lines = [ln for ln in p.stderr.splitlines() if ": error: " in ln]
    ok = (p.returncode == 1 and len(lines) == 1 and len(p.stderr.splitlines()) == 1
          and f"{out}: " in lines[0] and "File too large" in lines[0]
          and open(out, "rb").read() == previous and os.stat(out).st_ino == inode
          and set(os.listdir(".")) == before)
    check(ok, f"full disk: {name} (limit {limit} bytes): exit {p.returncode}; "
          f"{p.stderr.strip()}; {out} unchanged: {open(out, 'rb').read() == previous}; "
          f"new files: {sorted(set(os.listdir('.')) - before)}")
    os.remove(out)

# The training log: records appended whole or not at all. The log is filled to just below
# the limit, which the checkpoints (smaller) stay under; the next record crosses it.
run(*TRAIN, "-n", "2", "--checkpoint-every", "1", "-o", "logged.h5")
with open("train.jsonl", "w") as f:
    f.write("x" * 60000 + "\n")
log_before = open("train.jsonl", "rb").read()
limit = len(log_before) + 40
assert os.path.getsize("logged.h5") < limit
p = subprocess.run(TRAIN + ["-n", "50", "--log", "train.jsonl", "--log-every", "1",
                            "--checkpoint-every", "1", "-o", "logged.h5"],
                   capture_output=True, text=True, preexec_fn=limited(limit))
ok = (p.returncode == 1 and len(p.stderr.splitlines()) == 1
      and "train.jsonl: cannot append to the log" in p.stderr
      and open("train.jsonl", "rb").read() == log_before and not temporaries()
      and subprocess.run(["fsh-episodes", "info", "logged.h5"], capture_output=True).returncode == 0)
check(ok, f"full disk: the training log: exit {p.returncode}; {p.stderr.strip()}; log unchanged: "
      f"{open('train.jsonl', 'rb').read() == log_before}; checkpoint loads")

# ---- 3. divergence ---------------------------------------------------------------------------
p = subprocess.run(TRAIN + ["-n", "20", "--lr", "1e30", "--checkpoint-every", "5", "-o", "big.h5"],
                   capture_output=True, text=True)
check(p.returncode == 1 and len(p.stderr.splitlines()) == 1
      and p.stderr.startswith("fsh-train: error: training diverged: ")
      and "big.h5 keeps the last good checkpoint, of episode 0" in p.stderr,
      f"lr 1e30: exit {p.returncode}: {p.stderr.strip()}")
# The initial state, written another way: a run stopped by its time limit before episode 0.
run(*TRAIN, "-n", "20", "--lr", "1e30", "--checkpoint-every", "5", "--max-time", "1e-9",
    "-o", "initial.h5")
a, b = arrays("big.h5"), arrays("initial.h5")
check(a["episode"] == 0 and a["step"] == 0 and same(a, b)
      and subprocess.run(["fsh-episodes", "info", "big.h5"], capture_output=True).returncode == 0,
      "lr 1e30: big.h5 holds the initial checkpoint (episode 0), equal to the initial state")
check(not temporaries(), "lr 1e30: no temporary left")

# A resumed run that diverges: first-layer weights of 3e38 (finite, so the file is valid) make
# the first step's gradient, and so the parameters, overflow. The checkpoint it resumed, in
# place, stays byte for byte as it was.
run(*TRAIN, "-n", "3", "-o", "nan.h5")
with h5py.File("nan.h5", "r+") as f:
    f["params/conv0.weight"][...] = np.float32(3e38)
nan_before = open("nan.h5", "rb").read()
p = subprocess.run(["fsh-train", "--resume", "nan.h5", "-n", "10", "-q", "-o", "nan.h5"],
                   capture_output=True, text=True)
check(p.returncode == 1 and len(p.stderr.splitlines()) == 1
      and p.stderr.startswith("fsh-train: error: training diverged: ")
      and "the last good one is nan.h5" in p.stderr
      and open("nan.h5", "rb").read() == nan_before and not temporaries(),
      f"diverging resume: exit {p.returncode}: {p.stderr.strip()}; checkpoint unchanged")

print(f"faults: {TRIALS} SIGKILL trials, {len(WRITERS) + 1} full-disk writers, 2 divergences; "
      f"{len(failures)} failed; {time.monotonic() - start:.1f} s")
shutil.rmtree(WORK, ignore_errors=True)
sys.exit(1 if failures else 0)
