#!/usr/bin/python3
"""Damage that HDF5 1.10 reads without checking, refused by fsh before it reads the data (found
by fuzzing; lib/io/hdf5.cpp, check_storage): a contiguous dataset whose extent and maximum were
both enlarged past the bytes it stores. h5py writes the file (a /labels of 24 int32 values,
96 bytes, contiguous); the test then rewrites the two 8-byte extents of its dataspace from 24
to 2400. `fsh-episodes info` must refuse it with exit status 1 and one line naming the file,
the dataset, the bytes needed (2400 * 4) and stored (96), not allocate for it or read past
the storage. Exit 77 (skip) without h5py."""
import os
import shutil
import subprocess
import sys
import tempfile

try:
    import h5py
except ImportError:
    print("h5py not available: skipping", file=sys.stderr)
    sys.exit(77)

TOOL = shutil.which("fsh-episodes")
if TOOL is None:
    print("fsh-episodes not on PATH", file=sys.stderr)
    sys.exit(1)
src = os.path.join(os.environ["FSH_SOURCE_DIR"], "tests/fuzz/corpus/fuzz_dataset/ds.h5")
tmp = tempfile.mkdtemp()
path = os.path.join(tmp, "damaged.h5")
shutil.copy(src, path)
with h5py.File(path, "a") as f:
    labels = f["labels"][...]
    assert labels.shape == (24,), labels.shape
    del f["labels"]
    f.create_dataset("labels", data=labels)  # contiguous: no chunks, no filter
    assert f["labels"].id.get_storage_size() == 96
data = bytearray(open(path, "rb").read())
# The dataspace message holds the extent and then the maximum, 8 bytes each.
pair = (24).to_bytes(8, "little") * 2
at = [i for i in range(len(data) - 15) if data[i:i + 16] == pair]
if len(at) != 1:
    print(f"FAIL: expected one (24, 24) extent pair in the file, found {len(at)}")
    sys.exit(1)
data[at[0]:at[0] + 16] = (2400).to_bytes(8, "little") * 2
open(path, "wb").write(data)
with h5py.File(path, "r") as f:  # the damage as HDF5 sees it
    assert f["labels"].shape == (2400,) and f["labels"].id.get_storage_size() == 96

r = subprocess.run([TOOL, "info", path], capture_output=True, text=True)
err = r.stderr.strip()
expected = (f"{path}: dataset /labels of shape (2400,) needs 9600 bytes but stores 96 "
            "(truncated or damaged file?)")
ok = r.returncode == 1 and "\n" not in err and err.endswith(expected)
print(("ok   " if ok else "FAIL ") + f"exit {r.returncode}: {err}")
shutil.rmtree(tmp)
sys.exit(0 if ok else 1)
