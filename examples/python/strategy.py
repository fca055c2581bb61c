#!/usr/bin/python3
"""A Python strategy: replays the bundled Binance month as SignalEvents over ZeroMQ.

Each signal carries the recent bars of its instrument (plain msgpack arrays, or
the columnar encoding with --columnar) and the direction of a 20/50 EMA
crossover state. Instruments are the bundled FILUSDT series renamed (FILUSDT,
FILUSDT-2, ...), each starting at a different offset of the month, so a node
sees several independent histories.

    /usr/bin/python3 examples/python/strategy.py --endpoint tcp://127.0.0.1:5555 \
        --signals 5000 --instruments 10 --rate 2000

Needs Debian's python3-zmq and python3-msgpack (run with /usr/bin/python3).
"""
import argparse
import csv
import gzip
import os
import struct
import sys
import time

import msgpack
import zmq

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "FILUSDT-1m-2023-11.csv.gz")


def load_bars(path=DATA):
    """[(ts_ns, open, high, low, close, volume, buy_volume)] from a Binance kline CSV."""
    bars = []
    with gzip.open(path, "rt") as f:
        for row in csv.reader(f):
            if not row or not row[0].isdigit():
                continue
            ts = int(row[0])
            ts_ns = ts * 1_000_000 if ts < 10**14 else ts * 1000 if ts < 10**17 else ts
            bars.append((ts_ns, float(row[1]), float(row[2]), float(row[3]), float(row[4]),
                         float(row[5]), float(row[9])))
    return bars


def ema_sides(bars, fast=20, slow=50):
    """+1 while the fast EMA is above the slow one, else -1 (0 before `slow` bars)."""
    af, as_ = 2.0 / (fast + 1), 2.0 / (slow + 1)
    ef = es = bars[0][4]
    out = []
    for i, b in enumerate(bars):
        ef += af * (b[4] - ef)
        es += as_ * (b[4] - es)
        out.append(0 if i < slow else (1 if ef > es else -1))
    return out


def signal_message(instrument, bars, end, n_bars, side, seq, columnar=False, strategy="py-ema"):
    """A SignalEvent for bars[end - n_bars + 1 .. end] of one instrument."""
    window = bars[max(0, end - n_bars + 1):end + 1]
    if columnar:
        cols = {"ts": b"".join(struct.pack("<Q", b[0]) for b in window)}
        for k, name in enumerate(["open", "high", "low", "close", "volume", "buy_volume"], 1):
            cols[name] = b"".join(struct.pack("<d", b[k]) for b in window)
        bar_field = cols
    else:
        bar_field = [list(b) for b in window]
    return {"type": "SignalEvent", "v": 1, "instrument_id": instrument,
            "strategy_id": strategy, "signal_id": "py-%d" % seq,
            "signal": side, "ts_event": time.time_ns(), "bars": bar_field}


def plan(bars, n_signals, n_instruments, warmup=100):
    """(instrument, bar index) for each signal: instruments take turns, each
    walking forward through its own part of the month."""
    span = (len(bars) - warmup - 1) // max(1, n_instruments)
    names = ["FILUSDT"] + ["FILUSDT-%d" % (k + 1) for k in range(1, n_instruments)]
    pos = [warmup + k * span for k in range(n_instruments)]
    out = []
    for i in range(n_signals):
        k = i % n_instruments
        out.append((names[k], pos[k]))
        pos[k] += 1
        if pos[k] >= len(bars):
            pos[k] = warmup
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--endpoint", default="tcp://127.0.0.1:5555", help="the node's signals socket")
    ap.add_argument("--channel", default="nautilus:signals")
    ap.add_argument("--signals", type=int, default=1000)
    ap.add_argument("--instruments", type=int, default=1)
    ap.add_argument("--rate", type=float, default=1000, help="signals per second, 0 = flat out")
    ap.add_argument("--bars", type=int, default=100, help="bars per signal after the first")
    ap.add_argument("--columnar", action="store_true")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()

    bars = load_bars()
    sides = ema_sides(bars)
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 0)
    pub.connect(a.endpoint)
    time.sleep(0.5)  # let the subscription reach us (pub/sub drops until then)
    seen = set()
    t0 = time.monotonic()
    for i, (inst, end) in enumerate(plan(bars, a.signals, a.instruments)):
        n = a.bars if inst in seen else max(a.bars, 100)  # the first carries a full window
        seen.add(inst)
        msg = signal_message(inst, bars, end, n, sides[end] or 1, i, a.columnar)
        pub.send_multipart([a.channel.encode(), msgpack.packb(msg, use_bin_type=True)])
        if a.rate > 0:
            ahead = t0 + (i + 1) / a.rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    dt = time.monotonic() - t0
    if not a.quiet:
        print("strategy.py: sent %d signals over %d instrument(s) in %.2f s (%.0f/s) to %s"
              % (a.signals, a.instruments, dt, a.signals / dt if dt > 0 else 0, a.endpoint))
    time.sleep(0.2)
    pub.close(linger=2000)
    ctx.term()
    return 0


if __name__ == "__main__":
    sys.exit(main())
