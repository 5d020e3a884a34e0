#!/usr/bin/python3
"""Writes the small HDF5 files the CLI tests use, with h5py alone (no fsh code), following
man 5 fsh-dataset: good.h5 (a 12-class dataset) and a set of broken variants.
Usage: make_test_data.py FOLDER. Exit 77 (skip) when h5py is missing."""
import sys

try:
    import h5py
    import numpy as np
except ImportError:
    print("h5py/numpy not available: skipping", file=sys.stderr)
    sys.exit(77)

folder = sys.argv[1]
rng = np.random.default_rng(0)
N_CLASSES, PER, H = 12, 6, 8


def write(name, fmt="fsh-dataset", version=1, drop=(), replace=None):
    replace = replace or {}
    images = rng.integers(0, 256, (N_CLASSES * PER, H, H, 1), dtype=np.uint8)
    arrays = {
        "images": images,
        "labels": np.repeat(np.arange(N_CLASSES), PER).astype(np.int32),
        "class_names": np.array([f"Script{c // 4}/character{c % 4 + 1:02d}" for c in range(N_CLASSES)],
                                dtype=object),
        "class_group": (np.arange(N_CLASSES) // 4).astype(np.int32),
        "group_names": np.array([f"Script{g}" for g in range(3)], dtype=object),
    }
    arrays.update(replace)
    with h5py.File(f"{folder}/{name}", "w") as f:
        f.attrs["fsh_format"] = fmt
        f.attrs["fsh_format_version"] = version
        for key, value in arrays.items():
            if key in drop:
                continue
            if value.dtype == object:
                f.create_dataset(key, data=value, dtype=h5py.string_dtype())
            else:
                f.create_dataset(key, data=value)


write("good.h5")
write("newer.h5", version=2)
write("wrongformat.h5", fmt="fsh-model")
write("nolabels.h5", drop=("labels",))
write("badshape.h5", replace={"labels": np.zeros((N_CLASSES * PER, 2), np.int32)})
write("shortlabels.h5", replace={"labels": np.zeros(5, np.int32)})
write("floatlabels.h5", replace={"labels": np.repeat(np.arange(N_CLASSES), PER).astype(np.float32)})
write("int16images.h5", replace={"images": np.zeros((N_CLASSES * PER, H, H, 1), np.int16)})
write("badlabel.h5", replace={"labels": np.full(N_CLASSES * PER, 99, np.int32)})
with h5py.File(f"{folder}/notfsh.h5", "w") as f:
    f["x"] = np.arange(3)
