#!/usr/bin/python3
"""Wire-format interop: Debian's python3-msgpack (an independent msgpack
implementation) against ml4t's C codec.

1. Every golden vector in schemas/vectors/: Python decodes each valid one and
   its normalized content equals the .json; the C tool decodes every vector
   and yields the same content, or the expected error code and field.
2. Python encodes 1,000 random SignalEvents (plain bars with lists, columnar
   bars with NumPy) that the C tool decodes to exactly the same values.
3. The C tool encodes 1,200 random messages of every type that Python
   decodes to exactly the values the tool says it encoded.
"""
import json
import math
import os
import random
import subprocess
import sys

import msgpack
import numpy as np

SRC = os.environ.get("ML4T_SOURCE_DIR",
                     os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = os.environ.get("ML4T_BIN", os.path.join(SRC, "build", "bin"))
TOOL = os.path.join(BIN, "ml4t-codec-tool")
VECTORS = os.path.join(SRC, "schemas", "vectors")
sys.path.insert(0, VECTORS)
import generate  # noqa: E402  (the reference normalize() and bar encoders)

failures = []


def fail(what):
    failures.append(what)
    if len(failures) <= 20:
        print("FAIL:", what)


def run_tool(args, stdin=""):
    p = subprocess.run([TOOL] + args, input=stdin, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise SystemExit("ml4t-codec-tool %s failed: %s" % (args, p.stderr))
    return p.stdout.splitlines()


def unpack(data):
    return msgpack.unpackb(data, raw=False, strict_map_key=True)


def check_vectors():
    names = sorted(n[:-len(".msgpack")] for n in os.listdir(VECTORS) if n.endswith(".msgpack"))
    blobs = [open(os.path.join(VECTORS, n + ".msgpack"), "rb").read() for n in names]
    wants = [json.load(open(os.path.join(VECTORS, n + ".json"))) for n in names]
    out = run_tool(["decode"], "".join(b.hex() + "\n" for b in blobs))
    assert len(out) == len(names), "tool answered %d of %d vectors" % (len(out), len(names))
    valid = 0
    for name, blob, want, line in zip(names, blobs, wants, out):
        got = json.loads(line)
        if "error" in want:
            e = got.get("error", {})
            if (e.get("code"), e.get("field")) != (want["error"]["code"], want["error"]["field"]):
                fail("vector %s: C gave %s, want %s" % (name, got, want["error"]))
            continue
        valid += 1
        if got != want:
            fail("vector %s: C content differs from the .json" % name)
        if generate.normalize(unpack(blob)) != want:
            fail("vector %s: python3-msgpack content differs from the .json" % name)
    print("checked %d vectors (%d valid decoded by both C and python3-msgpack, %d errors)"
          % (len(names), valid, len(names) - valid))


def rand_id(rng, allow_empty):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-:./ é\"\\"
    n = rng.randint(0 if allow_empty else 1, 30)
    s = "".join(rng.choice(alphabet) for _ in range(n))
    while len(s.encode()) > 64:
        s = s[:-1]
    return s


def rand_rows(rng, n, with_buy):
    rows, ts, px = [], rng.getrandbits(56), 0.001 + rng.random() * 50000
    for _ in range(n):
        lo, hi = px * (1 - 0.01 * rng.random()), px * (1 + 0.01 * rng.random())
        op = px
        if rng.random() < 0.1:  # integer prices are valid input
            op, lo, hi = int(px) + 2, int(px) + 1, int(px) + 3
        vol = rng.random() * 1e6
        row = [ts, op, hi, lo, lo + (hi - lo) * rng.random(), vol]
        if with_buy:
            row.append(None if rng.random() < 0.1 else vol * rng.random())
        rows.append(row)
        ts += rng.randint(1, 120 * 10**9)
        px = lo + (hi - lo) * rng.random()
    return rows


def columnar_numpy(rows, with_buy):
    """What a NumPy client sends: each column as '<f8' (ts '<u8') bytes."""
    a = np.array([[float("nan") if x is None else x for x in r[1:]] for r in rows],
                 dtype=np.float64).reshape(len(rows), 6 if with_buy else 5)
    cols = {"ts": np.array([r[0] for r in rows], dtype=np.uint64).astype("<u8").tobytes()}
    names = ["open", "high", "low", "close", "volume", "buy_volume"][:a.shape[1]]
    for k, name in enumerate(names):
        cols[name] = a[:, k].astype("<f8").tobytes()
    return cols


def check_python_to_c(count=1000):
    rng = random.Random(20231101)
    msgs, wants = [], []
    for i in range(count):
        with_buy = rng.random() < 0.5
        rows = rand_rows(rng, rng.randint(0, 130), with_buy)
        m = {"type": "SignalEvent", "v": 1, "instrument_id": rand_id(rng, False),
             "signal": rng.choice([-1, 0, 1]), "ts_event": rng.getrandbits(64)}
        if rng.random() < 0.5:
            m["strategy_id"] = rand_id(rng, True)
        if rng.random() < 0.5:
            m["signal_id"] = rand_id(rng, True)
        m["bars"] = rows if i % 2 == 0 else columnar_numpy(rows, with_buy)
        if rng.random() < 0.2:
            m["x_unknown"] = {"ignored": [1, 2.5, None]}
        items = list(m.items())
        rng.shuffle(items)  # key order is free
        data = msgpack.packb(dict(items), use_bin_type=True)
        msgs.append(data)
        wants.append(generate.normalize(unpack(data)))
    out = run_tool(["decode"], "".join(d.hex() + "\n" for d in msgs))
    assert len(out) == count
    for i, (line, want) in enumerate(zip(out, wants)):
        got = json.loads(line)
        if got != want:
            fail("python->C signal %d (%s): %s" % (i, "plain" if i % 2 == 0 else "columnar",
                                                   line[:200]))
    print("python -> C: %d random SignalEvents (%d plain, %d columnar via NumPy) decoded exactly"
          % (count, (count + 1) // 2, count // 2))


def check_c_to_python(count=1200):
    kinds = {}
    for i, line in enumerate(run_tool(["random", "7", str(count)])):
        rec = json.loads(line)
        m = unpack(bytes.fromhex(rec["hex"]))
        kinds[m["type"]] = kinds.get(m["type"], 0) + 1
        if generate.normalize(m) != rec["expect"]:
            fail("C->python message %d (%s) differs" % (i, m["type"]))
        if m["type"] == "SignalEvent" and isinstance(m["bars"], dict):
            n = len(m["bars"]["ts"]) // 8
            close = np.frombuffer(m["bars"]["close"], dtype="<f8")
            if n and not np.array_equal(close, np.array(rec["expect"]["bars"]["close"])):
                fail("C->python message %d: NumPy view of close differs" % i)
    print("C -> python: %d random messages decoded exactly by python3-msgpack: %s"
          % (count, ", ".join("%s %d" % kv for kv in sorted(kinds.items()))))


def main():
    if not os.path.exists(TOOL):
        raise SystemExit("missing %s (build first)" % TOOL)
    check_vectors()
    check_python_to_c()
    check_c_to_python()
    if failures:
        print("%d failures" % len(failures))
        return 1
    print("all interop checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
