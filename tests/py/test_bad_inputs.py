#!/usr/bin/python3
"""Bad inputs across every tool, one table (issue 11): missing, unreadable, non-HDF5, empty and
truncated files; wrong format names and newer versions; wrong dtypes and shapes; NaN and
infinity in weights; empty classes, N larger than the classes, K+Q larger than a class; an
episodes file against the wrong dataset; a file of one kind where another is expected; flags
out of range; and every MUST of man 5 fsh-formats, fsh-dataset, fsh-split, fsh-episodes,
fsh-model and fsh-adapted, each broken alone in a copy of a valid file (h5py).

Every case must end with the exit status the man pages document (EXIT STATUS: 1 for a file
that cannot be read, is invalid or does not belong with the other files given; 2 for a bad
option or a request the data cannot honour), exactly ONE error line on stderr,
"TOOL: error: ...", holding the expected fragment (which names the file or flag and the
value), nothing on stdout, and no output left behind: the folder holds exactly the files it
held before (no output, no temporary). Parse errors may add CLI11's one hint line
"Run 'TOOL --help' for usage.".

Each table row: (description, setup, command, expected status, expected fragment). `setup`
makes the case's own file {f} (from a valid fixture, changed one way); {f} in the command and
the fragment is replaced by its name. Exit 77 (skip) without h5py/numpy/PIL."""
import io
import os
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib

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

WORK = tempfile.mkdtemp(prefix="fsh-bad-inputs-")
os.chdir(WORK)


def sh(*args):
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"fixture failed: {' '.join(args)}\n{p.stderr}")


# ---- valid fixtures ------------------------------------------------------------------------
# 12 classes of 6 images (16x16, Conv-4's smallest input), in 1 group "alphabet00".
Q = ["-q", "--no-provenance"]
sh("fsh-episodes", "synth", "--classes", "12", "--instances", "6", "--size", "16",
   "--per-group", "6", *Q, "-o", "syn.h5")
sh("fsh-episodes", "synth", "--classes", "12", "--instances", "6", "--size", "16", "--seed", "2",
   *Q, "-o", "other.h5")
sh("fsh-episodes", "split", "syn.h5", "--by", "class", "--fraction", "0.5,0.25,0.25", *Q,
   "-o", "split.h5")
sh("fsh-episodes", "split", "syn.h5", "--by", "class", "--fraction", "1,0,0", *Q,
   "-o", "trainonly.h5")
sh("fsh-episodes", "sample", "split.h5", "--part", "test", "-N", "2", "-K", "1", "-Q", "2",
   "--count", "3", *Q, "-o", "ep.h5")
sh("fsh-episodes", "sample", "split.h5", "--part", "test", "-N", "2", "-K", "1", "-Q", "2",
   "--count", "3", "--embed", *Q, "-o", "embed.h5")
sh("fsh-episodes", "sample", "other.h5", "-N", "2", "-K", "1", "-Q", "2", "--count", "3", *Q,
   "-o", "ep-other.h5")
TRAIN = ["--data", "split.h5", "-N", "3", "-K", "1", "-Q", "2", "--hidden", "4",
         "--val-every", "0", "--no-best", "--threads", "1"]
sh("fsh-train", *TRAIN, "-n", "2", *Q, "-o", "model.h5")
sh("fsh-adapt", "-m", "model.h5", "-e", "ep.h5", *Q, "-o", "adapted.h5")
sh("fsh-adapt", "-m", "model.h5", "-e", "ep-other.h5", *Q, "-o", "adapted-other.h5")
with open("text.h5", "w") as f:
    f.write("this is not HDF5\n")
open("empty.h5", "w").close()
with h5py.File("plain.h5", "w") as f:  # HDF5, but no fsh_format
    f["x"] = np.zeros(3, np.float32)
os.mkdir("tree")  # an import folder with one class
shutil.copy("text.h5", "tree/not-an-image.txt")
os.mkdir("tree/cls")
with open("tree/cls/broken.png", "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR")
with open("tree/cls/trunc.jpg", "wb") as f:
    f.write(b"\xff\xd8\xff\xe0\0\x10JFIF\0")


# ---- helpers for the setups ------------------------------------------------------------------
def edit(src, fn):
    """A setup: copy src to {f}, then fn(h5py file) changes it."""
    def setup(f):
        shutil.copy(src, f)
        with h5py.File(f, "r+") as h:
            fn(h)
    return setup


def replace(h, name, data):
    del h[name]
    h[name] = data


def attr(obj, key, value):
    def fn(h):
        h[obj].attrs[key] = value
    return fn


def drop_attr(obj, key):
    def fn(h):
        del h[obj].attrs[key]
    return fn


def drop(name):
    def fn(h):
        del h[name]
    return fn


def poke(name, index, value):
    """One element of a dataset set to value (same dtype, shape and storage)."""
    def fn(h):
        a = h[name][()]
        a[index] = value
        h[name][...] = a
    return fn


def retype(name, dtype):
    def fn(h):
        replace(h, name, h[name][()].astype(dtype))
    return fn


def reshape(name, transform):
    def fn(h):
        replace(h, name, transform(h[name][()]))
    return fn


def both(*fns):
    def fn(h):
        for g in fns:
            g(h)
    return fn


def truncated(src, fraction=0.5):
    def setup(f):
        data = open(src, "rb").read()
        open(f, "wb").write(data[: int(len(data) * fraction)])
    return setup


def unreadable(src):
    def setup(f):
        shutil.copy(src, f)
        os.chmod(f, 0)
    return setup


def empty_train_class(h):
    """The first class of the train part loses its images (relabelled to another class)."""
    part = h["class_part"][()]
    c = int(np.flatnonzero(part == 0)[0])
    other = int(np.flatnonzero(part == 0)[1])
    replace(h, "labels", np.where(h["labels"][()] == c, other, h["labels"][()]).astype(np.int32))


def refit_fingerprint(h):
    """After a deliberate edit of a dataset: drop the stored fingerprint (readers then compute
    it), so that the MUST under test is the only thing broken."""
    if "fingerprint" in h.attrs:
        del h.attrs["fingerprint"]


# Image headers and a zip entry that claim gigabytes: refused before anything of that size is
# allocated.
def png_chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def forged_png(f):
    os.makedirs(f + ".d/c")
    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)  # 8-bit gray, CRC correct
    idat = zlib.compress(bytes(30001 * 2))
    with open(f + ".d/c/big.png", "wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
                  + png_chunk(b"IEND", b""))


def forged_jpeg(f):
    os.makedirs(f + ".d/c")
    b = io.BytesIO()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(b, "JPEG")
    data = bytearray(b.getvalue())
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", 30000, 30000)
    open(f + ".d/c/big.jpg", "wb").write(data)


def forged_zip(f):
    with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
        z.writestr("images_background/Latin/character01/0001_01.png", b"\x89PNG\r\n\x1a\n" * 4)
    data = bytearray(open(f, "rb").read())
    for sig, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # uncompressed size fields
        i = data.find(sig)
        data[i + at:i + at + 4] = struct.pack("<I", 0xFFFFFFF0)
    open(f, "wb").write(data)


# Root cannot be denied a read by permissions: the unreadable cases then run as "nobody".
AS_NOBODY = []
if os.geteuid() == 0:
    setpriv = shutil.which("setpriv")
    if setpriv:
        AS_NOBODY = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
        os.chmod(WORK, 0o777)

ADAPT = "fsh-adapt -q -e ep.h5 -o out.h5 -m"
EVAL_A = "fsh-eval -q -e ep.h5 -a"
INFO = "fsh-episodes info"


def train(extra):
    """fsh-train on small settings (each overridden by a flag in `extra`), writing out.h5."""
    given = shlex.split(extra)
    defaults = {"-N": "3", "-K": "1", "-Q": "2", "--hidden": "4", "-n": "2", "-o": "out.h5"}
    flags = [x for k, v in defaults.items() if k not in given for x in (k, v)]
    return " ".join(["fsh-train", "-q", "--val-every", "0", "--no-best", "--threads", "1",
                     *flags, extra])


MODEL_MUST = "fsh-adapt -q -e ep.h5 -o out.h5 -m {f}"
ADAPTED_MUST = "fsh-eval -q -e ep.h5 -a {f}"
V = "--val-every 0 --no-best"

# (description, setup or None, command, expected exit status, expected fragment)
CASES = [
    # ---- missing, unreadable, not HDF5, empty, truncated ----------------------------------
    ("missing dataset", None, "fsh-episodes sample absent.h5 -o out.h5", 1,
     "absent.h5: cannot open (No such file or directory)"),
    ("missing training data", None, train("--data absent.h5"), 1, "absent.h5: cannot open"),
    ("missing model", None, ADAPT + " absent.h5", 1, "absent.h5: cannot open"),
    ("missing episodes (adapt)", None, "fsh-adapt -q -m model.h5 -e absent.h5 -o out.h5", 1,
     "absent.h5: cannot open"),
    ("missing adapted file", None, EVAL_A + " absent.h5", 1, "absent.h5: cannot open"),
    ("missing checkpoint to resume", None, "fsh-train -q --resume absent.h5 -o out.h5", 1,
     "absent.h5: cannot open"),
    ("missing --dataset", None, "fsh-eval -q -a adapted.h5 -e ep.h5 --dataset absent.h5", 1,
     "absent.h5: cannot open"),
    ("import: a PNG claiming 30000x30000", forged_png, "fsh-episodes import folder {f}.d -o out.h5",
     1, "{f}.d/c/big.png: corrupt or unsupported PNG: image too large (30000x30000, at most "
        "67108864 pixels)"),
    ("import: a JPEG claiming 30000x30000", forged_jpeg,
     "fsh-episodes import folder {f}.d -o out.h5", 1,
     "{f}.d/c/big.jpg: corrupt or unsupported JPEG: image too large (30000x30000"),
    ("import: a zip entry claiming 4 GB", forged_zip, "fsh-episodes import omniglot {f} -o out.h5",
     1, "{f}:images_background/Latin/character01/0001_01.png: zip entry claims 4294967280 bytes"),
    ("import: a corrupt PNG", None, "fsh-episodes import folder tree -o out.h5", 1,
     "tree/cls/broken.png: corrupt or unsupported PNG"),
    ("missing import source", None, "fsh-episodes import omniglot absent.zip -o out.h5", 1,
     "absent.zip: no such file or directory"),
    ("unreadable dataset", unreadable("syn.h5"), "fsh-episodes info {f}", 1,
     "{f}: cannot open (Permission denied)"),
    ("unreadable model", unreadable("model.h5"), ADAPT + " {f}", 1,
     "{f}: cannot open (Permission denied)"),
    ("unreadable episodes", unreadable("ep.h5"), "fsh-eval -q -a adapted.h5 -e {f}", 1,
     "{f}: cannot open (Permission denied)"),
    ("unreadable adapted file", unreadable("adapted.h5"), EVAL_A + " {f}", 1,
     "{f}: cannot open (Permission denied)"),
    ("a folder as the model", None, ADAPT + " tree", 1, "tree: is a folder; expected a file"),
    ("text as the model", None, ADAPT + " text.h5", 1, "text.h5: not an HDF5 file"),
    ("text as adapted classifiers", None, EVAL_A + " text.h5", 1, "text.h5: not an HDF5 file"),
    ("text as training data", None, train("--data text.h5"), 1,
     "text.h5: not an HDF5 file"),
    ("text as episodes", None, "fsh-eval -q -a adapted.h5 -e text.h5", 1,
     "text.h5: not an HDF5 file"),
    ("empty episodes file", None, "fsh-adapt -q -m model.h5 -e empty.h5 -o out.h5", 1,
     "empty.h5: empty file"),
    ("truncated model", truncated("model.h5"), ADAPT + " {f}", 1,
     "{f}: truncated or damaged HDF5 file"),
    ("truncated adapted file", truncated("adapted.h5"), EVAL_A + " {f}", 1,
     "{f}: truncated or damaged HDF5 file"),
    ("truncated split", truncated("split.h5"), train("--data {f}"), 1,
     "{f}: truncated or damaged HDF5 file"),
    ("truncated episodes", truncated("ep.h5", 0.8), "fsh-eval -q -a adapted.h5 -e {f}", 1,
     "{f}: "),
    ("truncated checkpoint to resume", truncated("model.h5", 0.9),
     "fsh-train -q --resume {f} -o out.h5", 1, "{f}: "),
    ("model on stdin, truncated", truncated("model.h5"), "fsh-adapt -q -m - -e ep.h5 -o out.h5 <{f}",
     1, "<stdin>: truncated or damaged HDF5 file"),
    ("empty stdin as the model", None, "fsh-adapt -q -m - -e ep.h5 -o out.h5 <empty.h5", 1,
     "<stdin>: no input"),

    # ---- a file of another kind, not fsh, newer versions: man 5 fsh-formats ----------------
    ("adapted file as the model of fsh-adapt", None, ADAPT + " adapted.h5", 1,
     'adapted.h5: not an fsh-model file (fsh_format is "fsh-adapted")'),
    ("adapted file as the model of fsh-eval", None, "fsh-eval -q -e ep.h5 -m adapted.h5", 1,
     'adapted.h5: not an fsh-model file (fsh_format is "fsh-adapted")'),
    ("model as adapted classifiers", None, EVAL_A + " model.h5", 1,
     'model.h5: not an fsh-adapted file (fsh_format is "fsh-model")'),
    ("adapted file to resume", None, "fsh-train -q --resume adapted.h5 -o out.h5", 1,
     'adapted.h5: not an fsh-model file (fsh_format is "fsh-adapted")'),
    ("model as training data", None, train("--data model.h5"), 1,
     'model.h5: not an fsh-dataset or fsh-split file (fsh_format is "fsh-model")'),
    ("model as episodes", None, "fsh-adapt -q -m model.h5 -e model.h5 -o out.h5", 1,
     'model.h5: not an fsh-episodes file (fsh_format is "fsh-model")'),
    ("episodes as the dataset", None, "fsh-episodes sample ep.h5 -o out.h5", 1,
     'ep.h5: not an fsh-dataset or fsh-split file (fsh_format is "fsh-episodes")'),
    ("dataset as episodes (show)", None, "fsh-episodes show syn.h5 -o out.png", 1,
     'syn.h5: not an fsh-episodes file (fsh_format is "fsh-dataset")'),
    ("model as --dataset", None, "fsh-adapt -q -m model.h5 -e ep.h5 --dataset model.h5 -o out.h5",
     1, 'model.h5: not an fsh-dataset or fsh-split file'),
    ("HDF5 without fsh_format", None, ADAPT + " plain.h5", 1,
     "plain.h5: not an fsh file (no fsh_format attribute"),
    ("fsh_format an integer", edit("model.h5", attr("/", "fsh_format", 7)), ADAPT + " {f}", 1,
     "{f}: attribute fsh_format of / has type int64; expected a string"),
    ("fsh_format_version missing", edit("model.h5", drop_attr("/", "fsh_format_version")),
     ADAPT + " {f}", 1, "{f}: fsh-model file without fsh_format_version"),
    ("fsh_format_version a string", edit("model.h5", attr("/", "fsh_format_version", "2")),
     ADAPT + " {f}", 1, "{f}: attribute fsh_format_version of / has type string; expected an integer"),
    ("fsh_format_version 0", edit("model.h5", attr("/", "fsh_format_version", 0)), ADAPT + " {f}",
     1, "{f}: bad fsh_format_version 0 (versions start at 1)"),
    ("newer model", edit("model.h5", attr("/", "fsh_format_version", 3)), ADAPT + " {f}", 1,
     "{f}: this file is fsh-model version 3; this build reads up to 2"),
    ("newer adapted file", edit("adapted.h5", attr("/", "fsh_format_version", 3)),
     ADAPTED_MUST, 1, "{f}: this file is fsh-adapted version 3; this build reads up to 2"),
    ("newer episodes", edit("ep.h5", attr("/", "fsh_format_version", 2)),
     "fsh-eval -q -a adapted.h5 -e {f}", 1,
     "{f}: this file is fsh-episodes version 2; this build reads up to 1"),
    ("newer split", edit("split.h5", attr("/", "fsh_format_version", 2)), train("--data {f}"),
     1, "{f}: this file is fsh-split version 2; this build reads up to 1"),
    ("newer dataset (info)", edit("syn.h5", attr("/", "fsh_format_version", 2)), INFO + " {f}", 1,
     "{f}: this file is fsh-dataset version 2; this build reads up to 1"),

    # ---- man 5 fsh-dataset -----------------------------------------------------------------
    ("dataset: /images int16", edit("syn.h5", retype("images", np.int16)), INFO + " {f}", 1,
     "{f}: dataset /images has type int16; expected uint8"),
    ("dataset: /images 3-D", edit("syn.h5", reshape("images", lambda a: a[..., 0])),
     INFO + " {f}", 1, "{f}: dataset /images has shape (72, 16, 16); expected (any, any, any, any)"),
    ("dataset: /images width 0", edit("syn.h5", reshape("images", lambda a: a[:, :, :0])),
     INFO + " {f}", 1, "{f}: bad image size 16x0x1"),
    ("dataset: /images missing", edit("syn.h5", drop("images")), INFO + " {f}", 1,
     "{f}: missing dataset /images"),
    ("dataset: /labels float", edit("syn.h5", retype("labels", np.float32)), INFO + " {f}", 1,
     "{f}: dataset /labels has type float32; expected an integer type"),
    ("dataset: label = n", edit("syn.h5", both(poke("labels", 5, 12), refit_fingerprint)),
     INFO + " {f}", 1, "{f}: label 12 of image 5 is outside [0, 12)"),
    ("dataset: label negative", edit("syn.h5", both(poke("labels", 0, -1), refit_fingerprint)),
     INFO + " {f}", 1, "{f}: label -1 of image 0 is outside [0, 12)"),
    ("dataset: label beyond int32", edit("syn.h5", both(
        reshape("labels", lambda a: np.where(np.arange(a.size) == 3, 2**40, a).astype(np.int64)),
        refit_fingerprint)), INFO + " {f}", 1,
     "{f}: dataset /labels holds 1099511627776, outside the range of int32"),
    ("dataset: /labels too short", edit("syn.h5", reshape("labels", lambda a: a[:-1])),
     INFO + " {f}", 1, "{f}: dataset /labels has shape (71,); expected (72,)"),
    ("dataset: /class_names integers", edit("syn.h5", reshape("class_names",
                                                             lambda a: np.arange(12))),
     INFO + " {f}", 1, "{f}: dataset /class_names has type int64; expected strings"),
    ("dataset: /class_names 2-D", edit("syn.h5", reshape("class_names", lambda a: a.reshape(12, 1))),
     INFO + " {f}", 1, "{f}: dataset /class_names has shape (12, 1); expected (any,)"),
    ("dataset: /class_group out of range", edit("syn.h5", poke("class_group", 2, 3)),
     INFO + " {f}", 1, "{f}: class_group 3 of class alphabet00/glyph02 is outside [0, 2)"),
    ("dataset: /class_group too long", edit("syn.h5", reshape("class_group",
                                                             lambda a: np.append(a, 0))),
     INFO + " {f}", 1, "{f}: dataset /class_group has shape (13,); expected (12,)"),
    ("dataset: /group_names missing", edit("syn.h5", drop("group_names")), INFO + " {f}", 1,
     "{f}: missing dataset /group_names"),
    ("dataset: /instance_names too short", edit("syn.h5", lambda h: h.create_dataset(
        "instance_names", data=["x"] * 5, dtype=h5py.string_dtype())), INFO + " {f}", 1,
     "{f}: dataset /instance_names has shape (5,); expected (72,)"),
    ("dataset: fingerprint in upper case", edit("syn.h5", lambda h: h.attrs.__setitem__(
        "fingerprint", h.attrs["fingerprint"].upper())), INFO + " {f}", 1,
     "is not 16 lowercase hex digits"),
    ("dataset: image changed after writing", edit("syn.h5", poke("images", (0, 0, 0, 0), 77)),
     INFO + " {f}", 1, "but the images and labels hash to"),

    # ---- man 5 fsh-split -------------------------------------------------------------------
    ("split: /class_part missing", edit("split.h5", drop("class_part")), INFO + " {f}", 1,
     "{f}: missing dataset /class_part"),
    ("split: /class_part value 3", edit("split.h5", poke("class_part", 0, 3)), INFO + " {f}", 1,
     "{f}: class_part value 3 of class alphabet00/glyph00 is not -1, 0, 1 or 2"),
    ("split: /class_part float", edit("split.h5", retype("class_part", np.float32)),
     INFO + " {f}", 1, "{f}: dataset /class_part has type float32; expected an integer type"),
    ("split: /class_part beyond int8", edit("split.h5", both(
        retype("class_part", np.int16), poke("class_part", 1, 300))), INFO + " {f}", 1,
     "{f}: dataset /class_part holds 300, outside the range of int8"),
    ("split: /class_part too short", edit("split.h5", reshape("class_part", lambda a: a[:5])),
     train("--data {f}"), 1, "{f}: dataset /class_part has shape (5,); expected (12,)"),

    # ---- requests the data cannot honour (exit 2) ------------------------------------------
    ("sample: N larger than the classes", None,
     "fsh-episodes sample syn.h5 -N 13 -K 1 -Q 1 -o out.h5", 2,
     "syn.h5: N = 13 exceeds the 12 classes"),
    ("train: N larger than the classes of the part", None, train("--data split.h5 -N 7"), 2,
     "split.h5: N = 7 exceeds the 6 classes of part train"),
    ("sample: K+Q larger than a class", None,
     "fsh-episodes sample syn.h5 -N 2 -K 3 -Q 4 -o out.h5", 2,
     "syn.h5: class \"alphabet00/glyph00\" has 6 images; K+Q = 7"),
    ("train: K+Q larger than a class", None, train("--data split.h5 -K 3 -Q 4"), 2,
     "split.h5: class \"alphabet00/glyph"),
    ("sample: an empty class", edit("syn.h5", both(
        reshape("labels", lambda a: np.where(a == 11, 10, a).astype(np.int32)),
        refit_fingerprint)), "fsh-episodes sample {f} -N 12 -K 1 -Q 0 -o out.h5", 2,
     "{f}: class \"alphabet01/glyph05\" has 0 images; K+Q = 1"),
    ("train: an empty class", edit("split.h5", both(empty_train_class, refit_fingerprint)),
     train("--data {f}"), 2, "has 0 images; K+Q = 3"),
    ("sample: a part without classes", None,
     "fsh-episodes sample trainonly.h5 --part test -N 2 -o out.h5", 2,
     "trainonly.h5: N = 2 exceeds the 0 classes of part test"),
    ("train: --val-way larger than the validation classes", None,
     "fsh-train -q --data split.h5 -N 2 -K 1 -Q 1 --hidden 2 -n 2 --val-way 4 -o out.h5", 2,
     "split.h5: N = 4 exceeds the 3 classes of part val"),
    ("sample: a part of a dataset that is not a split", None,
     "fsh-episodes sample syn.h5 --part test -o out.h5", 2, "syn.h5: not a split"),
    ("split: rotations of non-square images", edit("syn.h5", both(
        reshape("images", lambda a: a[:, :, :8]), refit_fingerprint)),
     "fsh-episodes split {f} --rotations 4 -o out.h5", 2,
     "{f}: rotating by 90 or 270 degrees needs square images; these are 16x8"),

    # ---- man 5 fsh-episodes ----------------------------------------------------------------
    ("episodes: n_way 0", edit("ep.h5", attr("/", "n_way", 0)), INFO + " {f}", 1,
     "{f}: bad episode shape n_way=0"),
    ("episodes: k_shot 0", edit("ep.h5", attr("/", "k_shot", 0)), INFO + " {f}", 1,
     "{f}: bad episode shape n_way=2 k_shot=0"),
    ("episodes: n_query -1", edit("ep.h5", attr("/", "n_query", -1)), INFO + " {f}", 1,
     "n_query=-1"),
    ("episodes: k_shot absurd", edit("ep.h5", attr("/", "k_shot", 2**62)), INFO + " {f}", 1,
     "{f}: "),
    ("episodes: dataset_fingerprint misspelled",
     edit("ep.h5", attr("/", "dataset_fingerprint", "12345")), INFO + " {f}", 1,
     "{f}: attribute dataset_fingerprint \"12345\" is not 16 lowercase hex digits"),
    ("episodes: dataset_fingerprint missing", edit("ep.h5", drop_attr("/", "dataset_fingerprint")),
     INFO + " {f}", 1, "{f}: missing attribute dataset_fingerprint of /"),
    ("episodes: dataset_size too small", edit("ep.h5", attr("/", "dataset_size", 10)),
     "fsh-adapt -q -m model.h5 -e {f} -o out.h5", 1, "{f}: dataset_size is 10"),
    ("episodes: /classes float", edit("ep.h5", retype("classes", np.float64)), INFO + " {f}", 1,
     "{f}: dataset /classes has type float64; expected an integer type"),
    ("episodes: /classes wrong width", edit("ep.h5", reshape("classes", lambda a: a[:, :1])),
     INFO + " {f}", 1, "{f}: dataset /classes has shape (3, 1); expected (any, 2)"),
    ("episodes: a class twice in an episode",
     edit("ep.h5", reshape("classes", lambda a: np.stack([a[:, 0], a[:, 0]], 1))),
     INFO + " {f}", 1, "{f}: "),
    ("episodes: class beyond the dataset", edit("ep.h5", poke("classes", (0, 0), 12)),
     "fsh-episodes info {f} --dataset split.h5", 1, "{f}: "),
    ("episodes: /support wrong shape", edit("ep.h5", reshape("support", lambda a: a[:, :1])),
     INFO + " {f}", 1, "{f}: dataset /support has shape (3, 1); expected (3, 2)"),
    ("episodes: query index beyond M", edit("ep.h5", poke("query", (1, 0), 500)),
     INFO + " {f}", 1, "500"),
    ("episodes: an image in support and query",
     edit("ep.h5", lambda h: poke("query", (0, 0), h["support"][0, 0])(h)), INFO + " {f}", 1,
     "{f}: "),
    ("episodes: an image of another class", edit("ep.h5", lambda h: poke(
        "support", (0, 0), h["support"][0, 1])(h)),
     "fsh-eval -q -a adapted.h5 -e {f}", 1, "{f}: "),
    ("episodes: count disagrees", edit("ep.h5", attr("/", "count", 4)), INFO + " {f}", 1,
     "{f}: attribute count is 4 but /classes holds 3 episodes"),
    ("episodes: seed negative", edit("ep.h5", attr("/", "seed", -1)), INFO + " {f}", 1,
     "{f}: attribute seed of / is -1; expected a non-negative integer"),
    ("episodes: part misspelled", edit("ep.h5", attr("/", "part", "dev")), INFO + " {f}", 1,
     "{f}: attribute part is \"dev\"; expected train, val, test or all"),
    ("episodes: within_group 2", edit("ep.h5", attr("/", "within_group", 2)), INFO + " {f}", 1,
     "{f}: attribute within_group is 2; expected 0 or 1"),
    ("episodes: /embedded/index without images", edit("embed.h5", drop("embedded/images")),
     INFO + " {f}", 1, "{f}: missing dataset /embedded/images"),
    ("episodes: embedded image changed", edit("embed.h5", poke("embedded/images", (0, 0, 0, 0), 99)),
     INFO + " {f}", 1, "{f}: the embedded images hash to"),
    ("episodes: embedded fingerprint misspelled",
     edit("embed.h5", attr("embedded", "fingerprint", "XYZ")), INFO + " {f}", 1,
     "{f}: attribute fingerprint of /embedded \"XYZ\" is not 16 lowercase hex digits"),
    ("episodes: embedded index not increasing", edit("embed.h5", both(
        reshape("embedded/index", lambda a: a[::-1].copy()),
        drop_attr("embedded", "fingerprint"))), INFO + " {f}", 1, "{f}: "),
    ("episodes against the wrong dataset (adapt)", None,
     "fsh-adapt -q -m model.h5 -e ep.h5 --dataset other.h5 -o out.h5", 1,
     "other.h5: not the dataset the episodes of ep.h5 were drawn from"),
    ("episodes against the wrong dataset (eval)", None,
     "fsh-eval -q -a adapted.h5 -e ep.h5 --dataset other.h5", 1,
     "other.h5: not the dataset the episodes of ep.h5 were drawn from"),
    ("episodes against the wrong dataset (show)", None,
     "fsh-episodes show ep.h5 --dataset other.h5 -o out.png", 1,
     "other.h5: not the dataset the episodes of ep.h5 were drawn from"),
    ("episodes against the wrong dataset (train)", None,
     "fsh-train -q --data ep.h5 --dataset other.h5 --hidden 2 -n 2 -o out.h5", 1,
     "other.h5: not the dataset the episodes of ep.h5 were drawn from"),
    ("resume on another dataset", None,
     "fsh-train -q --resume model.h5 --data other.h5 -n 3 -o out.h5", 1,
     "other.h5: this is not the dataset model.h5 was trained on"),
    ("adapted to other episodes", None, "fsh-eval -q -a adapted-other.h5 -e ep.h5", 1,
     "adapted-other.h5: adapted to other episodes than"),

    # ---- man 5 fsh-model -------------------------------------------------------------------
    ("model: NaN in /params", edit("model.h5", poke("params/conv0.weight", (0, 0, 0, 0), np.nan)),
     MODEL_MUST, 1, "{f}: /params/conv0.weight holds NaN or infinity"),
    ("model: infinity in /params", edit("model.h5", poke("params/bn2.gamma", 1, np.inf)),
     "fsh-eval -q -e ep.h5 -m {f}", 1, "{f}: /params/bn2.gamma holds NaN or infinity"),
    ("model: NaN in the optimizer state", edit("model.h5", poke("optimizer/slot1", 3, np.nan)),
     "fsh-train -q --resume {f} -n 3 -o out.h5", 1,
     "{f}: /optimizer/slot1 holds NaN or infinity"),
    ("model: /params dataset missing", edit("model.h5", drop("params/conv3.bias")), MODEL_MUST, 1,
     "{f}: missing dataset /params/conv3.bias"),
    ("model: /params wrong shape", edit("model.h5", reshape("params/conv1.weight",
                                                           lambda a: a[:, :2])), MODEL_MUST, 1,
     "{f}: dataset /params/conv1.weight has shape (4, 2, 3, 3); expected (4, 4, 3, 3)"),
    ("model: /params integers", edit("model.h5", retype("params/bn0.beta", np.int32)), MODEL_MUST,
     1, "{f}: dataset /params/bn0.beta has type int32; expected a floating-point type"),
    ("model: /config missing", edit("model.h5", drop("config")), MODEL_MUST, 1,
     "{f}: missing group /config"),
    ("model: unknown method", edit("model.h5", attr("config", "method", "nosuchmethod")),
     MODEL_MUST, 1, "{f}: "),
    ("model: bn misspelled", edit("model.h5", attr("config", "bn", "batch")), MODEL_MUST, 1,
     "{f}: /config: "),
    ("model: unknown backbone", edit("model.h5", attr("config", "backbone", "resnet12")),
     MODEL_MUST, 1, "{f}: backbone 'resnet12' is not known to this build (expected conv4)"),
    ("model: in_channels 0", edit("model.h5", attr("config", "in_channels", 0)), MODEL_MUST, 1,
     "{f}: /config: Conv-4: input channels must be in [1, 64], got 0"),
    ("model: hidden too large", edit("model.h5", attr("config", "hidden", 5000)), MODEL_MUST, 1,
     "{f}: /config: Conv-4: hidden width must be in [1, 4096], got 5000"),
    ("model: depth 9", edit("model.h5", attr("config", "depth", 9)), MODEL_MUST, 1,
     "{f}: /config: Conv-4: depth must be in [1, 8], got 9"),
    ("model: input too small for its depth", edit("model.h5", attr("config", "height", 8)),
     MODEL_MUST, 1, "{f}: /config: Conv-4: input 8x16 is outside [16, 4096]"),
    ("model: bn_eps 0", edit("model.h5", attr("config", "bn_eps", 0.0)), MODEL_MUST, 1,
     "{f}: /config: Conv-4: batch-norm eps must be > 0"),
    ("model: bn_eps a string", edit("model.h5", attr("config", "bn_eps", "small")), MODEL_MUST, 1,
     "{f}: attribute bn_eps of /config has type string; expected a number"),
    ("model: a setting protonet does not have",
     edit("model.h5", attr("config/settings", "inner_lr", 0.4)), MODEL_MUST, 1,
     "{f}: /config/settings: protonet has no setting 'inner_lr'"),
    ("model: /train n_way 1", edit("model.h5", attr("train", "n_way", 1)), MODEL_MUST, 1,
     "{f}: /train: --way must be at least 2 (got 1)"),
    ("model: /train optimizer unknown", edit("model.h5", attr("train", "optimizer", "rmsprop")),
     MODEL_MUST, 1, "{f}: /train: --optimizer must be adam or sgd (got 'rmsprop')"),
    ("model: /train meta_batch 0", edit("model.h5", attr("train", "meta_batch", 0)), MODEL_MUST,
     1, "{f}: /train: --meta-batch must be in [1, 4096] (got 0)"),
    ("model: /train part misspelled", edit("model.h5", attr("train", "part", "dev")), MODEL_MUST,
     1, "{f}: /train: unknown part \"dev\""),
    ("model: /optimizer kind unknown", edit("model.h5", attr("optimizer", "kind", "rmsprop")),
     MODEL_MUST, 1, "{f}: /optimizer: kind 'rmsprop'"),
    ("model: /optimizer slot count", edit("model.h5", attr("optimizer", "slots", 5)), MODEL_MUST,
     1, "{f}: /optimizer: "),
    ("model: /optimizer slot wrong length", edit("model.h5", reshape("optimizer/slot0",
                                                                    lambda a: a[:-1])),
     MODEL_MUST, 1, "{f}: dataset /optimizer/slot0 has shape"),
    ("model: /state episode beyond the total", edit("model.h5", attr("state", "episode", 3)),
     MODEL_MUST, 1, "{f}: /state: episode 3 outside [0, 2]"),
    ("model: /state missing", edit("model.h5", drop("state")), MODEL_MUST, 1,
     "{f}: missing group /state"),
    ("model for other images", edit("model.h5", attr("config", "in_channels", 3)), MODEL_MUST, 1,
     "{f}: dataset /params/conv0.weight has shape (4, 1, 3, 3); expected (4, 3, 3, 3)"),

    # ---- man 5 fsh-adapted -----------------------------------------------------------------
    ("adapted: NaN in /episodes/head.bias", edit("adapted.h5", poke("episodes/head.bias",
                                                                     (1, 1), np.nan)),
     ADAPTED_MUST, 1, "{f}: /episodes/head.bias holds NaN or infinity"),
    ("adapted: infinity in a scale", edit("adapted.h5", poke("episodes/conv2.scale", (0, 0),
                                                              -np.inf)),
     ADAPTED_MUST, 1, "{f}: /episodes/conv2.scale holds NaN or infinity"),
    ("adapted: NaN in the base", edit("adapted.h5", poke("base/conv0.bias", 0, np.nan)),
     ADAPTED_MUST, 1, "{f}: /base/conv0.bias holds NaN or infinity"),
    ("adapted: /episodes missing", edit("adapted.h5", drop("episodes")), ADAPTED_MUST, 1,
     "{f}: missing group /episodes"),
    ("adapted: n_way 1", edit("adapted.h5", attr("episodes", "n_way", 1)), ADAPTED_MUST, 1,
     "{f}: /episodes: n_way is 1; expected >= 2"),
    ("adapted: count disagrees with the arrays", edit("adapted.h5", attr("episodes", "count", 5)),
     ADAPTED_MUST, 1, "{f}: dataset /episodes/head.bias has shape (3, 2); expected (5, 2)"),
    ("adapted: count absurd", edit("adapted.h5", attr("episodes", "count", 2**40)), ADAPTED_MUST,
     1, "{f}: "),
    ("adapted: count negative", edit("adapted.h5", attr("episodes", "count", -1)), ADAPTED_MUST,
     1, "{f}: /episodes: count is -1"),
    ("adapted: base wrong shape", edit("adapted.h5", reshape("base/conv0.weight",
                                                            lambda a: a[:2])), ADAPTED_MUST, 1,
     "{f}: dataset /base/conv0.weight has shape (2, 1, 3, 3); expected (4, 1, 3, 3)"),
    ("adapted: head.weight wrong shape", edit("adapted.h5", reshape("episodes/head.weight",
                                                                   lambda a: a[:, :, :3])),
     ADAPTED_MUST, 1, "{f}: dataset /episodes/head.weight has shape (3, 2, 3); expected (3, 2, 4)"),
    ("adapted: head.bias float64 of the wrong shape",
     edit("adapted.h5", reshape("episodes/head.bias", lambda a: a.astype(np.float64).T)),
     ADAPTED_MUST, 1, "{f}: dataset /episodes/head.bias has shape (2, 3); expected (3, 2)"),
    ("adapted: per-episode convolutions for one block only", edit("adapted.h5", lambda h: h.create_dataset(
        "episodes/conv0.weight", data=np.zeros((3, 4, 1, 3, 3), np.float32))), ADAPTED_MUST, 1,
     "{f}: /episodes has per-episode convolutions for some blocks only (1 of 8"),
    ("adapted: bn misspelled", edit("adapted.h5", attr("config", "bn", "batch")), ADAPTED_MUST, 1,
     "{f}: /config: "),
    ("adapted: dataset_fingerprint of other episodes",
     edit("adapted.h5", attr("episodes", "dataset_fingerprint", "0123456789abcdef")),
     ADAPTED_MUST, 1, "{f}: adapted to other episodes than"),

    # ---- flags out of range, missing, contradictory (exit 2) --------------------------------
    ("synth --classes 0", None, "fsh-episodes synth --classes 0 -o out.h5", 2,
     "--classes: Value 0 not in range 1 to 100000"),
    ("synth --size 4", None, "fsh-episodes synth --size 4 -o out.h5", 2,
     "--size: Value 4 not in range 8 to 1024"),
    ("synth --channels 2", None, "fsh-episodes synth --channels 2 -o out.h5", 2,
     "--channels: 2 not in {1,3}"),
    ("synth --per-group above --classes", None,
     "fsh-episodes synth --classes 10 --per-group 11 -o out.h5", 2,
     "--per-group must be in [1, --classes = 10]"),
    ("import --size 0", None, "fsh-episodes import folder tree --size 0 -o out.h5", 2,
     "--size must be N or HxW"),
    ("sample --seed -1", None, "fsh-episodes sample syn.h5 -N 2 --seed -1 -o out.h5", 2,
     "--seed: Value -1 is not a non-negative integer"),
    ("train --seed -1", None, train("--data split.h5 --seed -1"), 2,
     "--seed: Value -1 is not a non-negative integer"),
    ("sample -N 0", None, "fsh-episodes sample syn.h5 -N 0 -o out.h5", 2,
     "--ways: Value 0 not in range 1 to 100000"),
    ("sample --count 0", None, "fsh-episodes sample syn.h5 --count 0 -o out.h5", 2,
     "--count: Value 0 not in range"),
    ("sample --part misspelled", None, "fsh-episodes sample split.h5 --part tset -o out.h5", 2,
     "--part: tset not in {all,train,val,test}"),
    ("split --fraction summing to 1.1", None,
     "fsh-episodes split syn.h5 --fraction 0.5,0.6 -o out.h5", 2,
     "fractions must sum to 1 (train + val + test), got 1.1"),
    ("show --scale 33", None, "fsh-episodes show ep.h5 --scale 33 -o out.png", 2,
     "--scale: Value 33 not in range 1 to 32"),
    ("show --episode past the end", None, "fsh-episodes show ep.h5 --episode 3 -o out.png", 2,
     "--episode must be in [0, 2]"),
    ("info --dataset on a model", None, "fsh-episodes info model.h5 --dataset syn.h5", 2,
     "--dataset applies to fsh-episodes files; model.h5 is fsh-model"),
    ("train -N 1", None, train("--data split.h5 -N 1"), 2,
     "--way must be at least 2 (got 1)"),
    ("train -K 0", None, train("--data split.h5 -K 0"), 2, "--shot must be at least 1 (got 0)"),
    ("train -Q 0", None, train("--data split.h5 -Q 0"), 2,
     "--query must be at least 1 (got 0)"),
    ("train -n 0", None, train("--data split.h5 -n 0"), 2,
     "--num-episodes must be at least 1 (got 0)"),
    ("train --meta-batch 0", None, train("--data split.h5 --meta-batch 0"), 2,
     "--meta-batch must be in [1, 4096] (got 0)"),
    ("train --optimizer rmsprop", None, train("--data split.h5 --optimizer rmsprop"), 2,
     "--optimizer must be adam or sgd (got 'rmsprop')"),
    ("train --momentum 1", None, train("--data split.h5 --optimizer sgd --momentum 1"), 2,
     "--momentum must be in [0, 1)"),
    ("train --lr -1", None, train("--data split.h5 --lr -1"), 2,
     "learning rate must be a finite number > 0, got -1"),
    ("train --lr nan", None, train("--data split.h5 --lr nan"), 2,
     "learning rate must be a finite number > 0, got nan"),
    ("train --hidden 0", None, train("--data split.h5 --hidden 0"), 2,
     "hidden width must be in [1, 4096], got 0"),
    ("train --bn misspelled", None, train("--data split.h5 --bn batch"), 2, "batch"),
    ("train --part misspelled", None, train("--data split.h5 --part tset"), 2,
     "unknown part \"tset\""),
    ("train --val-episodes 0", None,
     "fsh-train -q --data split.h5 -N 2 -Q 1 --hidden 2 -n 2 --val-episodes 0 -o out.h5", 2,
     "--val-episodes must be at least 1"),
    ("train --checkpoint-every -1", None, train("--data split.h5 --checkpoint-every -1"), 2,
     "--checkpoint-every must be >= 0"),
    ("train --max-time -5", None, train("--data split.h5 --max-time -5"), 2, "--max-time"),
    ("train --log-every 0", None, train("--data split.h5 --log-every 0"), 2, "--log-every"),
    ("train --threads 5000", None, train("--data split.h5 --threads 5000"), 2,
     "--threads: Value 5000 not in range 0 to 1024"),
    ("train --method unknown", None, train("--data split.h5 --method nosuchmethod"), 2,
     "nosuchmethod"),
    ("train without --data", None, "fsh-train -q -o out.h5", 2,
     "--data is required (or --resume a checkpoint)"),
    ("train --resume below the episodes done", None,
     "fsh-train -q --resume model.h5 -n 1 -o out.h5", 2,
     "--num-episodes 1 is below the 2 episodes model.h5 has done"),
    ("train without -o", None, "fsh-train -q --data split.h5", 2, "--output is required"),
    ("adapt --bn misspelled", None, "fsh-adapt -q -m model.h5 -e ep.h5 --bn batch -o out.h5", 2,
     "batch"),
    ("adapt without -o", None, "fsh-adapt -q -m model.h5 -e ep.h5", 2, "--output is required"),
    ("adapt --threads -1", None, "fsh-adapt -q -m model.h5 -e ep.h5 --threads -1 -o out.h5", 2,
     "--threads: Value -1 not in range 0 to 1024"),
    ("eval with --adapted and --model", None,
     "fsh-eval -q -a adapted.h5 -m model.h5 -e ep.h5", 2, "excludes"),
    ("eval with neither --adapted nor --model", None, "fsh-eval -q -e ep.h5", 2,
     "give exactly one of --adapted or --model"),
    ("eval --bn without --model", None, "fsh-eval -q -a adapted.h5 -e ep.h5 --bn support", 2,
     "--bn needs --model"),
    ("eval unknown flag", None, "fsh-eval -q -a adapted.h5 -e ep.h5 --bogus", 2,
     "The following argument was not expected: --bogus"),

    # ---- outputs that cannot be written ----------------------------------------------------
    ("adapt into a missing folder", None, "fsh-adapt -q -m model.h5 -e ep.h5 -o nowhere/out.h5", 1,
     "nowhere/out.h5: cannot write: folder nowhere does not exist"),
    ("eval --predictions into a missing folder", None,
     "fsh-eval -q -a adapted.h5 -e ep.h5 --predictions nowhere/p.tsv", 1,
     "nowhere/p.tsv: cannot create output file: No such file or directory"),
    ("train into a folder", None, train("--data split.h5 -o tree"), 1,
     "tree: is a folder; expected an output file name"),
    ("train --log into a missing folder", None, train("--data split.h5 --log nowhere/log.csv"),
     1, "nowhere/log.csv: cannot open the log for writing"),
    ("show into a missing folder", None, "fsh-episodes show ep.h5 -o nowhere/x.png", 1,
     "nowhere/x.png: cannot create output file"),
]

HINT = "Run '"


def listing():
    out = set()
    for root, dirs, files in os.walk("."):
        for name in dirs + files:
            out.add(os.path.join(root, name))
    return out


failures = []
skipped = 0
for i, (what, setup, command, status, fragment) in enumerate(CASES):
    f = f"case{i:03d}.h5"
    if setup:
        setup(f)
    command = command.replace("{f}", f)
    fragment = fragment.replace("{f}", f)
    argv = shlex.split(command)
    stdin = None
    if argv[-1].startswith("<"):
        stdin = open(argv.pop()[1:], "rb")
    prefix = []
    if setup and setup.__qualname__.startswith("unreadable"):
        if os.geteuid() == 0 and not AS_NOBODY:
            print(f"skip {what}: running as root without setpriv")
            skipped += 1
            continue
        prefix = AS_NOBODY
    before = listing()
    p = subprocess.run(prefix + argv, stdin=stdin if stdin else subprocess.DEVNULL,
                       capture_output=True, text=True)
    after = listing()
    tool = argv[0]
    lines = [ln for ln in p.stderr.splitlines() if not ln.startswith(HINT)]
    problems = []
    if p.returncode != status:
        problems.append(f"exit {p.returncode}, expected {status}")
    if len(lines) != 1:
        problems.append(f"{len(lines)} error lines")
    elif not lines[0].startswith(f"{tool}: error: "):
        problems.append("not a '" + tool + ": error:' line")
    elif fragment not in lines[0]:
        problems.append(f"message lacks [{fragment}]")
    if p.stdout:
        problems.append("stdout not empty")
    if after != before:
        problems.append(f"files left behind: {sorted(after - before)} removed: {sorted(before - after)}")
    if problems:
        failures.append(what)
        print(f"FAIL {what}: {'; '.join(problems)}\n     $ {command}")
        for ln in p.stderr.splitlines():
            print(f"     stderr: {ln}")
    else:
        print(f"ok   {what} (exit {p.returncode}): {lines[0]}")
    if setup and os.path.exists(f):
        os.chmod(f, 0o600)

print(f"{len(CASES)} cases, {skipped} skipped, {len(failures)} failed")
shutil.rmtree(WORK, ignore_errors=True)
sys.exit(1 if failures else 0)
