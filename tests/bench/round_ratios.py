#!/usr/bin/env python3
"""Pools the round-by-round p99 ratios of several ml4t-bench runs.

ml4t-bench zmq|redis|streams prints one line per kept round on stderr:

  zmq 100-bar round 3 at 10000/s: p99 floor 1280 us, node 1928 us (1.51)

This reads such lines from the files given (or stdin), groups them by suite,
size, rate and what ran in the node's slot (node, or floor2 with
--floor-twice), and prints for each group: the rounds, the geometric mean of
the ratios and their median, each with a 90 % bootstrap interval (resampled
rounds, a fixed seed: the same input gives the same output), how many rounds
were at or under 1.3x, and the range. Set the node's group beside the
floor2 group of runs made the same hour: that is how far noise alone moves
the same figures.

usage: round_ratios.py [--json] [LOG...]
"""
import json
import math
import random
import re
import sys

LINE = re.compile(r"(\w+) (\d+)-bar round (\d+) at (\d+)/s: p99 floor (\d+(?:\.\d+)?) us, "
                  r"(\w+) (\d+(?:\.\d+)?) us")
RESAMPLES = 4000


def parse(lines):
    groups = {}
    for line in lines:
        m = LINE.search(line)
        if not m:
            continue
        floor, other = float(m.group(5)), float(m.group(7))
        if floor <= 0 or other <= 0:
            continue
        key = (m.group(1), int(m.group(2)), int(m.group(4)), m.group(6))
        groups.setdefault(key, []).append(math.log(other / floor))
    return groups


def median(xs):
    s = sorted(xs)
    n = len(s)
    return (s[(n - 1) // 2] + s[n // 2]) / 2


def summary(logs):
    n = len(logs)
    rng = random.Random(1)
    means, medians = [], []
    for _ in range(RESAMPLES):
        x = [logs[rng.randrange(n)] for _ in range(n)]
        means.append(sum(x) / n)
        medians.append(median(x))
    means.sort()
    medians.sort()
    lo, hi = int(0.05 * RESAMPLES), int(0.95 * RESAMPLES) - 1
    return {
        "rounds": n,
        "geomean": math.exp(sum(logs) / n),
        "geomean_90": [math.exp(means[lo]), math.exp(means[hi])],
        "median": math.exp(median(logs)),
        "median_90": [math.exp(medians[lo]), math.exp(medians[hi])],
        "within_1_3x": sum(1 for v in logs if v <= math.log(1.3) + 1e-12),
        "min": math.exp(min(logs)),
        "max": math.exp(max(logs)),
    }


def main(argv):
    as_json = "--json" in argv
    paths = [a for a in argv if a != "--json"]
    if any(a.startswith("-") for a in paths):
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    lines = []
    if not paths:
        lines = sys.stdin.readlines()
    for p in paths:
        with open(p, errors="replace") as f:
            lines.extend(f.readlines())
    groups = parse(lines)
    if not groups:
        print("round_ratios: no per-round lines of ml4t-bench found", file=sys.stderr)
        return 1
    out = []
    for (suite, bars, rate, other), logs in sorted(groups.items()):
        s = summary(logs)
        s.update({"suite": suite, "bars": bars, "rate": rate, "vs": other})
        out.append(s)
    if as_json:
        print(json.dumps(out, indent=1))
        return 0
    for s in out:
        print("%s %d-bar %d/s, %s/floor: %d rounds, geometric mean %.2f (90 %% %.2f-%.2f), "
              "median %.2f (90 %% %.2f-%.2f), %d of %d within 1.3x, range %.2f-%.2f"
              % (s["suite"], s["bars"], s["rate"], s["vs"], s["rounds"], s["geomean"],
                 s["geomean_90"][0], s["geomean_90"][1], s["median"], s["median_90"][0],
                 s["median_90"][1], s["within_1_3x"], s["rounds"], s["min"], s["max"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
