"""tests/bench/round_ratios.py, the pooling of ml4t-bench's round-by-round p99
ratios: on lines with known ratios, and on what ml4t-bench itself prints
(a --smoke run of the floor against itself, its --json figures beside)."""
import json
import math
import os
import subprocess
import sys

SRC = os.environ["ML4T_SOURCE_DIR"]
BENCH = os.path.join(os.environ["ML4T_BIN"], "ml4t-bench")
TOOL = os.path.join(SRC, "tests", "bench", "round_ratios.py")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def tool(*args, stdin=""):
    return subprocess.run([sys.executable, TOOL, *args], input=stdin, capture_output=True,
                          text=True, timeout=120)


def known_ratios():
    ratios = [2.0, 0.5, 1.0, 1.3, 4.0]
    lines = ["  zmq 100-bar round %d at 10000/s: p99 floor 1000 us, node %.0f us (%.2f)"
             % (i + 1, 1000 * r, r) for i, r in enumerate(ratios)]
    lines += ["  zmq 100-bar 10000/s measured again: steal 31% (floor)",  # not a round line
              "  zmq 100-bar round 1 at 10000/s: p99 floor 800 us, floor2 400 us (0.50)",
              "  zmq 100-bar round 2 at 10000/s: p99 floor 500 us, floor2 1000 us (2.00)",
              "  redis 1-bar round 1 at 1000/s: p99 floor 300 us, node 600 us (2.00)"]
    p = tool("--json", stdin="\n".join(lines) + "\n")
    check(p.returncode == 0, "round_ratios reads lines from stdin (%s)" % p.stderr.strip())
    if p.returncode != 0:
        return
    groups = {(g["suite"], g["bars"], g["rate"], g["vs"]): g for g in json.loads(p.stdout)}
    check(len(groups) == 3, "three groups: suite, size, rate and slot apart (%d)" % len(groups))
    g = groups.get(("zmq", 100, 10000, "node"), {})
    want = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    check(g.get("rounds") == 5, "five node rounds (%s)" % g.get("rounds"))
    check(abs(g.get("geomean", 0) - want) < 1e-9,
          "geometric mean %.4f of 2, 0.5, 1, 1.3, 4 (%s)" % (want, g.get("geomean")))
    check(abs(g.get("median", 0) - 1.3) < 1e-9, "median 1.3 (%s)" % g.get("median"))
    check(g.get("within_1_3x") == 3, "three rounds within 1.3x, 1.3 itself counted (%s)"
          % g.get("within_1_3x"))
    check(abs(g.get("min", 0) - 0.5) < 1e-9 and abs(g.get("max", 0) - 4.0) < 1e-9,
          "range 0.5-4 (%s-%s)" % (g.get("min"), g.get("max")))
    lo, hi = g.get("geomean_90", [0, 0])
    check(0.5 <= lo <= g.get("geomean", 0) <= hi <= 4.0,
          "the bootstrap interval holds the mean, within the range (%s-%s)" % (lo, hi))
    f2 = groups.get(("zmq", 100, 10000, "floor2"), {})
    check(f2.get("rounds") == 2 and abs(f2.get("geomean", 0) - 1.0) < 1e-9,
          "floor2 rounds apart: 0.5 and 2 average to 1 (%s)" % f2.get("geomean"))
    again = tool("--json", stdin="\n".join(lines) + "\n")
    check(again.stdout == p.stdout, "the same input gives the same output (fixed seed)")
    empty = tool(stdin="nothing here\n")
    check(empty.returncode == 1 and "no per-round lines" in empty.stderr,
          "input without round lines: exit 1 and says so (%d)" % empty.returncode)


def from_the_bench(tmp):
    p = subprocess.run([BENCH, "zmq", "--smoke", "--floor-twice", "--bars", "1", "--json"],
                       capture_output=True, text=True, timeout=300)
    check(p.returncode == 0, "ml4t-bench zmq --smoke --floor-twice exits 0%s"
          % ("" if p.returncode == 0 else " (%s)" % p.stderr[-300:]))
    if p.returncode != 0:
        return
    figures = json.loads(p.stdout)
    figures = figures.get("figures", figures)
    keys = ["b1_r500_round_p99_ratio_" + k for k in ("median", "geomean", "min", "max")]
    check(all(k in figures for k in keys) and "b1_r500_rounds_within_1_3x" in figures,
          "--json has the round-by-round figures")
    round_lines = [l for l in p.stderr.splitlines() if " round 1 at 500/s: p99 floor " in l]
    check(len(round_lines) == 1 and "floor2" in round_lines[0],
          "one round line on stderr, floor2 in the node's slot (%s)" % round_lines)
    path = os.path.join(tmp, "smoke.err")
    with open(path, "w") as f:
        f.write(p.stderr)
    t = tool("--json", path)
    check(t.returncode == 0, "round_ratios reads the bench's stderr from a file")
    if t.returncode != 0 or "b1_r500_round_p99_ratio_geomean" not in figures:
        return
    g = json.loads(t.stdout)
    check(len(g) == 1 and g[0]["rounds"] == 1 and g[0]["vs"] == "floor2",
          "one group of one round (%s)" % g)
    bench = figures["b1_r500_round_p99_ratio_geomean"]
    # the lines carry the p99s rounded to 1 us: a ratio of ~0.5 ms p99s moves < 1 %
    check(abs(g[0]["geomean"] - bench) <= 0.02 * bench,
          "the tool's ratio %.3f matches the bench's %.3f" % (g[0]["geomean"], bench))


def main():
    import tempfile
    known_ratios()
    with tempfile.TemporaryDirectory() as tmp:
        from_the_bench(tmp)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
