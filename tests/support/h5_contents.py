#!/usr/bin/python3
"""A file's contents as h5py reads them, for comparing fsh's checkpoints bit for bit without
fsh (tests/py/test_mpi_train.py imports it; tests/cli/slurm_scripts.sh runs it).

    h5_contents.py A.h5 B.h5   exit 0 when every dataset and attribute but the volatile ones
                               is identical, else 1, naming each difference on stderr"""
import sys

import h5py
import numpy as np

# Informational, not part of the result: the training time, and what the provenance records
# (the command line differs between the runs being compared).
VOLATILE = {"elapsed_seconds", "command_line"}


def contents(path):
    """Every dataset and every attribute of the file, by path, except the volatile ones."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()]
            for k, v in obj.attrs.items():
                if k not in VOLATILE:
                    out[f"{name}@{k}"] = v
        visit("/", f)
        f.visititems(visit)
    return out


def identical(x, y):
    u, v = np.asarray(x), np.asarray(y)
    if u.shape != v.shape or u.dtype != v.dtype:
        return False
    if u.dtype.kind == "O":  # variable-length strings
        return u.tolist() == v.tolist()
    return u.tobytes() == v.tobytes()  # bits, not values: NaN is NaN, -0.0 is not 0.0


def differences(a, b):
    """The keys present in only one of the files, then those whose values differ."""
    x, y = contents(a), contents(b)
    return sorted(x.keys() ^ y.keys()) + [k for k in sorted(x.keys() & y.keys())
                                          if not identical(x[k], y[k])]


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    diff = differences(sys.argv[1], sys.argv[2])
    for k in diff:
        print(f"{sys.argv[1]} vs {sys.argv[2]}: {k} differs", file=sys.stderr)
    sys.exit(1 if diff else 0)
