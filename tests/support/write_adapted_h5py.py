#!/usr/bin/python3
"""Writes an fsh-adapted version-2 file with h5py alone, from man 5 fsh-adapted, holding the
same classifiers as SOURCE (an fsh-adapted file read here only for its numbers).
Used by tests/test_adapted.cpp. Usage: write_adapted_h5py.py SOURCE OUT. Exit 77 without h5py."""
import sys

try:
    import h5py
    import numpy as np
except ImportError:
    print("h5py/numpy not available", file=sys.stderr)
    sys.exit(77)

src_path, out_path = sys.argv[1], sys.argv[2]
with h5py.File(src_path, "r") as src, h5py.File(out_path, "w") as out:
    # Root attributes (MUST).
    out.attrs["fsh_format"] = "fsh-adapted"
    out.attrs["fsh_format_version"] = np.int64(2)
    # /config with the fsh-model(5) attributes, and /config/settings typed per declaration.
    cfg = out.create_group("config")
    for key in ("method", "bn", "backbone"):
        cfg.attrs[key] = str(src["config"].attrs[key].decode() if isinstance(
            src["config"].attrs[key], bytes) else src["config"].attrs[key])
    for key in ("in_channels", "height", "width", "hidden", "depth"):
        cfg.attrs[key] = np.int64(src["config"].attrs[key])
    cfg.attrs["bn_eps"] = np.float64(src["config"].attrs["bn_eps"])
    settings = cfg.create_group("settings")
    for key, value in src["config/settings"].attrs.items():
        settings.attrs[key] = value
    depth = int(cfg.attrs["depth"])
    # /episodes attributes.
    eps = out.create_group("episodes")
    for key in ("count", "n_way", "k_shot", "n_query", "first"):
        eps.attrs[key] = np.int64(src["episodes"].attrs[key])
    eps.attrs["seed"] = np.uint64(src["episodes"].attrs["seed"])
    fp = src["episodes"].attrs["dataset_fingerprint"]
    eps.attrs["dataset_fingerprint"] = fp.decode() if isinstance(fp, bytes) else str(fp)
    # Datasets, written in another order than fsh does and without compression.
    E = int(eps.attrs["count"])
    for i in reversed(range(depth)):
        w = np.asarray(src[f"episodes/conv{i}.weight"], dtype=np.float32)
        b = np.asarray(src[f"episodes/conv{i}.bias"], dtype=np.float32)
        assert w.shape[0] == E and b.shape[0] == E
        out.create_dataset(f"episodes/conv{i}.weight", data=w)
        out.create_dataset(f"episodes/conv{i}.bias", data=b)
        for what in ("scale", "shift"):
            out.create_dataset(f"episodes/conv{i}.{what}",
                               data=np.asarray(src[f"episodes/conv{i}.{what}"], dtype=np.float32))
        for what in ("weight", "bias"):
            out.create_dataset(f"base/conv{i}.{what}",
                               data=np.asarray(src[f"base/conv{i}.{what}"], dtype=np.float32))
    out.create_dataset("episodes/head.bias", data=np.asarray(src["episodes/head.bias"], np.float32))
    out.create_dataset("episodes/head.weight",
                       data=np.asarray(src["episodes/head.weight"], np.float32))
