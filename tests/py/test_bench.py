#!/usr/bin/python3
"""fsh-bench on two models and two episodes files, checked from the outside: its accuracies and
paired differences against fsh-eval's per-query predictions of the same models on the same
episodes, recomputed here with numpy (mean, sample sd, 1.96·sd/√n of the per-episode
differences); the structure of the CSV, JSON, markdown and SVG outputs (the SVG parsed as XML).
Exit 77 (skip) without numpy."""
import csv
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

try:
    import numpy as np
except ImportError:
    print("skip: numpy is not installed")
    sys.exit(77)


def run(*args):
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"FAIL: {' '.join(args)} exited {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def per_episode_accuracy(tsv):
    """Fraction of correct queries per episode, in episode order, from fsh-eval's TSV."""
    rows = list(csv.DictReader(open(tsv), delimiter="\t"))
    episodes = np.array([int(r["episode"]) for r in rows])
    correct = np.array([int(r["predicted"]) == int(r["label"]) for r in rows], dtype=float)
    return np.array([correct[episodes == e].mean() for e in range(episodes.max() + 1)])


def main():
    failures = []

    def check(ok, what):
        if not ok:
            failures.append(what)

    with tempfile.TemporaryDirectory() as d:
        os.chdir(d)
        run("fsh-episodes", "synth", "--classes", "40", "--instances", "12", "--seed", "4",
            "-o", "g.h5", "-q")
        run("fsh-episodes", "split", "g.h5", "--by", "class", "--fraction", "0.5,0,0.5",
            "-o", "s.h5", "-q")
        episodes = {"5w1s": ("5", "1", "5", "2"), "3w2s": ("3", "2", "4", "3")}
        for key, (n, k, q, seed) in episodes.items():
            run("fsh-episodes", "sample", "s.h5", "--part", "test", "-N", n, "-K", k, "-Q", q,
                "--count", "15", "--seed", seed, "-o", f"{key}.h5", "-q")
        # Two models that differ (training length and seed), compared under labels.
        for name, n, seed in (("a", "20", "1"), ("b", "4", "2")):
            run("fsh-train", "--data", "s.h5", "-N", "5", "-K", "1", "-Q", "3", "-n", n,
                "--hidden", "16", "--val-part", "none", "--seed", seed, "-o", f"{name}.h5", "-q")
        md = run("fsh-bench", "-m", "a=a.h5", "-m", "b=b.h5", "--reference", "a",
                 "-e", "5w1s.h5", "-e", "3w2s.h5", "-o", "out", "--timing-episodes", "3",
                 "--train-timing", "0.05", "--kernel-seconds", "0.02", "-q")
        report = json.load(open("out/bench.json"))
        check(open("out/bench.md").read() == md, "stdout is not bench.md")

        # Accuracies and paired differences against fsh-eval's predictions.
        (section,) = report["sections"]
        check(section["reference"] == "a", "reference is not a")
        check([m["label"] for m in section["methods"]] == ["a", "b"], "methods are not a, b")
        configs = {c["key"]: c for c in section["configurations"]}
        check(sorted(configs) == ["3w2s", "5w1s"], f"configurations {sorted(configs)}")
        for key in episodes:
            acc = {}
            for label in ("a", "b"):
                run("fsh-eval", "-m", f"{label}.h5", "-e", f"{key}.h5", "--predictions",
                    f"{label}-{key}.tsv", "-q")
                acc[label] = per_episode_accuracy(f"{label}-{key}.tsv")
            results = {r["label"]: r for r in configs[key]["results"]}
            for label in ("a", "b"):
                got = np.array(results[label]["episode_accuracy"])
                check(got.shape == (15,), f"{key} {label}: {got.shape} episode accuracies")
                check(np.allclose(got, acc[label], rtol=0, atol=1e-9),
                      f"{key} {label}: per-episode accuracies differ from fsh-eval's")
                mean = acc[label].mean()
                ci = 1.96 * acc[label].std(ddof=1) / np.sqrt(len(acc[label]))
                check(abs(results[label]["accuracy"]["mean"] - mean) < 1e-9,
                      f"{key} {label}: accuracy {results[label]['accuracy']['mean']} vs {mean}")
                check(abs(results[label]["accuracy"]["ci95"] - ci) < 1e-9,
                      f"{key} {label}: ci95 {results[label]['accuracy']['ci95']} vs {ci}")
            diff = acc["b"] - acc["a"]
            dmean = diff.mean()
            dsd = diff.std(ddof=1)
            dci = 1.96 * dsd / np.sqrt(len(diff))
            delta = results["b"]["delta"]
            check(results["a"]["delta"] is None, f"{key}: the reference has a delta")
            check(abs(delta["mean"] - dmean) < 1e-9, f"{key}: delta {delta['mean']} vs {dmean}")
            check(abs(delta["sd"] - dsd) < 1e-9, f"{key}: delta sd {delta['sd']} vs {dsd}")
            check(abs(delta["ci95"] - dci) < 1e-9, f"{key}: delta ci {delta['ci95']} vs {dci}")
            check(delta["n"] == 15, f"{key}: delta over {delta['n']} episodes")
            print(f"{key}: b - a = {100 * dmean:+.2f} ± {100 * dci:.2f} pp "
                  f"(fsh-bench {100 * delta['mean']:+.2f} ± {100 * delta['ci95']:.2f})")
            for label in ("a", "b"):
                r = results[label]
                check(r["adapt_ms_1t"]["n"] == 3 and r["adapt_ms_nt"]["n"] == 3,
                      f"{key} {label}: not 3 timed adaptations")
                check(0 < r["adapt_ms_1t"]["median"] <= r["adapt_ms_1t"]["max"],
                      f"{key} {label}: adaptation times")
                check(r["train_tasks_per_s"] > 0, f"{key} {label}: no training throughput")

        # CSV: one row per configuration and method, agreeing with the JSON.
        rows = list(csv.DictReader(open("out/bench.csv")))
        check(len(rows) == 4, f"{len(rows)} CSV rows")
        for row in rows:
            r = {x["label"]: x for x in configs[row["configuration"]]["results"]}[row["label"]]
            check(abs(float(row["accuracy"]) - r["accuracy"]["mean"]) < 1e-8, "CSV accuracy")
            check((row["delta"] == "") == (row["label"] == "a"), "CSV delta of the reference")
            if row["delta"]:
                check(abs(float(row["delta"]) - r["delta"]["mean"]) < 1e-8, "CSV delta")
            check(int(row["parameters"]) > 0 and row["memory_source"] != "", "CSV sizes/memory")

        # Markdown: one table per configuration in the familiar form.
        check(md.count("| Method | Accuracy | Δ vs a | Adaptation time (ms)") == 2,
              "markdown tables")
        check("sgemm" in md and "Conv-4 forward" in md and "kernel: **" in md, "kernel figures")

        # SVG: well-formed XML, one panel per configuration, a point and an error bar per
        # method and configuration, a legend entry per method, a size a browser can use.
        ns = {"s": "http://www.w3.org/2000/svg"}
        root = ET.parse("out/bench.svg").getroot()
        check(root.tag == "{http://www.w3.org/2000/svg}svg", f"root element {root.tag}")
        check(all(root.get(a) for a in ("width", "height", "viewBox")), "svg size attributes")
        groups = root.findall(".//s:g", ns)
        check(sum(g.get("class") == "panel" for g in groups) == 2, "svg panels")
        check(sum(g.get("class") == "point" for g in groups) == 4, "svg points")
        check(len([l for l in root.iter("{http://www.w3.org/2000/svg}line")
                   if l.get("class") == "errorbar"]) == 4, "svg error bars")
        legend = [g for g in groups if g.get("id") == "legend"]
        check(len(legend) == 1 and
              [t.text for t in legend[0].findall("s:text", ns)] == ["a", "b"], "svg legend")

    for f in failures:
        print("FAIL:", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
