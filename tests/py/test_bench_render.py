#!/usr/bin/python3
"""fsh-bench's SVG as a browser shows it: a tiny comparison of two models, rendered by headless
Chromium to a PNG, which must show the title and axis text (dark pixels), and the markers and
error bars of both methods in their legend colours (#1f77b4 and #d62728) inside the plot area.
Exit 77 (skip) without chromium or PIL."""
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

browser = shutil.which("chromium") or shutil.which("chromium-browser")
if not browser:
    print("skip: chromium is not installed (Debian package chromium)")
    sys.exit(77)
try:
    from PIL import Image
except ImportError:
    print("skip: PIL is not installed")
    sys.exit(77)


def run(*args, timeout=600):
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(args)} exited {r.returncode}: {r.stderr.strip()[-500:]}")
    return r.stdout


def count_near(img, rgb, tol=40):
    return sum(1 for p in img.getdata()
               if all(abs(int(a) - int(b)) <= tol for a, b in zip(p[:3], rgb)))


def main():
    with tempfile.TemporaryDirectory() as d:
        os.chdir(d)
        run("fsh-episodes", "synth", "--classes", "30", "--instances", "10", "--seed", "6",
            "-o", "g.h5", "-q")
        run("fsh-episodes", "split", "g.h5", "--by", "class", "--fraction", "0.5,0,0.5",
            "-o", "s.h5", "-q")
        run("fsh-episodes", "sample", "s.h5", "--part", "test", "-N", "5", "-K", "1", "-Q", "3",
            "--count", "10", "--seed", "2", "-o", "e.h5", "-q")
        for name, n in (("a", "10"), ("b", "2")):
            run("fsh-train", "--data", "s.h5", "-N", "5", "-K", "1", "-Q", "3", "-n", n,
                "--hidden", "8", "--val-part", "none", "-o", f"{name}.h5", "-q")
        run("fsh-bench", "-m", "a=a.h5", "-m", "b=b.h5", "-e", "e.h5", "-o", "out",
            "--timing-episodes", "2", "--train-timing", "0", "--kernel-seconds", "0.01", "-q")
        svg = ET.parse("out/bench.svg").getroot()
        w, h = int(float(svg.get("width"))), int(float(svg.get("height")))
        profile = tempfile.mkdtemp(dir=d)
        run(browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}", f"--window-size={w},{h}",
            "--screenshot=render.png", "out/bench.svg", timeout=120)
        img = Image.open("render.png").convert("RGB")
        failures = []
        if img.size != (w, h):
            failures.append(f"rendered {img.size}, the SVG is {w}x{h}")
        dark = count_near(img, (0, 0, 0), tol=60)
        blue = count_near(img, (0x1f, 0x77, 0xb4))
        red = count_near(img, (0xd6, 0x27, 0x28))
        print(f"rendered {img.size}: {dark} dark, {blue} blue, {red} red pixels")
        if dark < 500:
            failures.append(f"only {dark} dark pixels: text and axes are not drawn")
        # A marker (~80 px) and an error bar in the plot, and one in the legend, each.
        if blue < 100 or red < 100:
            failures.append(f"markers missing: {blue} blue and {red} red pixels")
        for f in failures:
            print("FAIL:", f)
        sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
