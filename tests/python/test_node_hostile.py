#!/usr/bin/python3
"""ml4t-node under hostile input: 100,000 messages over ZeroMQ mixing valid
SignalEvents with garbage bytes, truncated msgpack, wrong types, NaN and
negative prices, 1 MB strings, 1,000,000-bar arrays (whole, 8 MB, and a
header claiming them in 20 bytes), unknown types and events on the wrong
channel. Checked:
  - the node stays up;
  - the output, in order, is one EnrichedSignalEvent per valid signal (its
    signal_id, exactly once) and one ErrorEvent per invalid message, with the
    reason expected for its kind;
  - STATUS agrees (errors_total, nothing dropped);
  - memory stays bounded: VmRSS below a ceiling, and no growth between the
    end of the first half and the end of the second.
A single PUB into the node and a single SUB out keep one order on both sides,
so the n-th output answers the n-th message. The sender keeps at most WINDOW
messages unanswered, so no high-water mark is ever reached (nothing may be
dropped here: a drop would be a lost answer)."""
import collections
import os
import random
import sys
import tempfile
import threading
import time

import msgpack
import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodeutil  # noqa: E402
from nodeutil import strategy  # noqa: E402

SIG, OUT, ERR = b"nautilus:signals", b"nautilus:enriched_signals", b"nautilus:errors"
TOTAL = 100_000
WINDOW = 2000
RSS_CEILING_KB = 256 * 1024  # the node with a model and 8 instruments: about 50 MB
RSS_CEILING_ASAN_KB = 1024 * 1024  # ASan: shadow memory and its quarantine on top
RSS_GROWTH_KB = 16 * 1024    # second half vs first half: allocator slack, not a leak
# ASan keeps freed blocks in a quarantine (256 MB by default) before reusing
# them; how fast it fills depends on how the node's receives and the test's
# sends interleave, so with the default the check measured the quarantine
# (one run ended the first half at 366 MB with the quarantine full, another at
# 258 MB with it still filling, +163 MB by the end). The node here gets a
# 32 MB quarantine, full within the first thousands of 1 MB strings and
# million-bar arrays; what remains is its share of them in flight.
ASAN_QUARANTINE_MB = 32
RSS_GROWTH_ASAN_KB = 48 * 1024


def asan_node():
    """True when ml4t-node is an AddressSanitizer build (the ASan stage of
    scripts/test.sh runs these tests against it): its quarantine keeps up to
    256 MB of freed memory aside by design, so memory bounds are wider there."""
    with open(os.path.join(nodeutil.BIN, "ml4t-node"), "rb") as f:
        return b"__asan_init" in f.read()


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Hostile:
    """Builds the message mix. Each entry: (kind, payload bytes, expected
    reasons or None for a valid signal, signal_id)."""

    def __init__(self, bars, seed=7):
        self.bars, self.rng = bars, random.Random(seed)
        self.plan = strategy.plan(bars, TOTAL, 8)
        self.seen, self.i = set(), 0
        self.base = msgpack.packb(strategy.signal_message("FILUSDT", bars, 30000, 100, 1, 0),
                                  use_bin_type=True)
        # 1,000,000 bars of 7 zeros: 8 MB, beyond max_message_bytes (4 MiB)
        sig = strategy.signal_message("FILUSDT", bars, 30000, 1, 1, 0)
        sig["bars"] = [[0] * 7] * 1_000_000
        self.million = msgpack.packb(sig, use_bin_type=True)
        # the same count announced in an array32 header with two bars behind it
        head = msgpack.packb(dict(sig, bars=[]), use_bin_type=True)
        self.liar = head[:-1] + b"\xdd" + (1_000_000).to_bytes(4, "big") + \
            msgpack.packb([1, 2, 2, 1, 1, 5, 2]) * 2
        assert head[-1] == 0x90  # the empty bars array is last in the map

    def valid(self):
        inst, end = self.plan[self.i]
        self.i += 1
        nb = 1 if inst in self.seen else 100
        self.seen.add(inst)
        m = strategy.signal_message(inst, self.bars, end, nb, 1 if self.i % 3 else -1, self.i)
        m["signal_id"] = "v-%d" % self.i
        return ("valid", msgpack.packb(m, use_bin_type=True), None, m["signal_id"])

    def one_signal(self, **over):
        m = strategy.signal_message("FILUSDT", self.bars, 30000, 3, 1, 0)
        m.update(over)
        return m

    def invalid(self):
        r, rng = self.rng.random(), self.rng
        if r < 0.25:
            n = rng.randint(1, 200)
            junk = bytes(rng.getrandbits(8) for _ in range(n))
            if junk[0] >> 4 == 0x8 or junk[0] in (0xde, 0xdf):
                junk = b"\xc1" + junk  # never a map by chance: 0xc1 is never msgpack
            return ("garbage", junk, {"malformed", "wrong_type"}, None)
        if r < 0.45:
            cut = rng.randint(1, len(self.base) - 1)
            return ("truncated", self.base[:cut], {"malformed"}, None)
        if r < 0.62:
            field, value, reason = rng.choice([
                ("signal", "up", "wrong_type"), ("instrument_id", 42, "wrong_type"),
                ("ts_event", "now", "wrong_type"), ("bars", "none", "wrong_type"),
                ("strategy_id", [1, 2], "wrong_type")])
            m = self.one_signal(**{field: value})
            return ("wrong_type", msgpack.packb(m, use_bin_type=True), {reason}, None)
        if r < 0.72:
            m = self.one_signal()
            m["bars"] = [list(b) for b in m["bars"]]
            m["bars"][1][4] = float("nan")
            return ("nan", msgpack.packb(m, use_bin_type=True), {"out_of_range"}, None)
        if r < 0.82:
            m = self.one_signal()
            m["bars"] = [list(b) for b in m["bars"]]
            m["bars"][2][rng.randint(1, 4)] = -rng.uniform(0.01, 100.0)
            return ("negative", msgpack.packb(m, use_bin_type=True), {"out_of_range"}, None)
        if r < 0.92:
            m = rng.choice([{"type": "NoSuchEvent", "v": 1},
                            {"type": "OutcomeEvent", "v": 1, "instrument_id": "X",
                             "signal_id": "s", "label": 1},
                            {"v": 1, "instrument_id": "X"}])
            return ("unknown_type", msgpack.packb(m, use_bin_type=True),
                    {"unsupported", "mismatch", "missing_field"}, None)
        if r < 0.9990:
            return ("liar_header", self.liar, {"limit_exceeded", "malformed"}, None)
        if r < 0.9998:
            big = "X" * (1 << 20)
            m = self.one_signal(**{rng.choice(["instrument_id", "strategy_id", "signal_id"]): big})
            return ("1MB_string", msgpack.packb(m, use_bin_type=True), {"limit_exceeded"}, None)
        return ("million_bars", self.million, {"limit_exceeded"}, None)


class Collector:
    def __init__(self, port):
        self.ctx = zmq.Context()
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.RCVHWM, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, OUT)
        self.sub.setsockopt(zmq.SUBSCRIBE, ERR)
        self.sub.setsockopt(zmq.RCVTIMEO, 100)
        self.sub.connect("tcp://127.0.0.1:%d" % port)
        self.raw, self.stop = [], False
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                self.raw.append(self.sub.recv_multipart())
            except zmq.Again:
                pass

    def close(self):
        self.stop = True
        self.thread.join()
        self.sub.close(linger=0)
        self.ctx.term()


def main():
    c = nodeutil.Checker("test_node_hostile")
    bars = strategy.load_bars()
    tmpdir = tempfile.TemporaryDirectory(prefix="ml4t-hostile-")
    tmp = tmpdir.name
    try:
        env = None
        if asan_node():
            opts = os.environ.get("ASAN_OPTIONS", "")
            env = dict(os.environ, ASAN_OPTIONS=(opts + ":" if opts else "")
                       + "quarantine_size_mb=%d" % ASAN_QUARANTINE_MB)
        node = nodeutil.Node(tmp, name="hostile", env=env)
        col = Collector(node.enr_port)
        ctx = zmq.Context()
        pub = ctx.socket(zmq.PUB)
        pub.setsockopt(zmq.SNDHWM, 0)
        pub.connect("tcp://127.0.0.1:%d" % node.sig_port)
        h = Hostile(bars)
        # join: probe until one is answered, then forget the probes
        for _ in range(200):
            pub.send_multipart([SIG, h.base])
            if nodeutil.wait_for(lambda: col.raw, 0.05):
                break
        c.check(bool(col.raw), "the node answers a probe")
        time.sleep(0.3)
        n_probe = len(col.raw)
        sent, rss = [], []
        rng = random.Random(11)
        t0 = time.time()
        for i in range(TOTAL):
            m = h.valid() if rng.random() < 0.6 else h.invalid()
            sent.append((m[0], m[2], m[3]))
            pub.send_multipart([SIG, m[1]])
            if i % 200 == 199:
                while len(col.raw) - n_probe < i + 1 - WINDOW:
                    time.sleep(0.001)
                    if node.proc.poll() is not None:
                        break
            if i % 5000 == 4999:
                rss.append(rss_kb(node.proc.pid))
            if node.proc.poll() is not None:
                break
        nodeutil.wait_for(lambda: len(col.raw) - n_probe >= TOTAL, 60)
        time.sleep(0.5)  # anything extra would show now
        dt = time.time() - t0
        col.close()
        c.check(node.proc.poll() is None, "the node is still running")
        out = col.raw[n_probe:]
        kinds = collections.Counter(k for k, _, _ in sent)
        print("  sent %d messages in %.1f s: %s" % (len(sent), dt, dict(kinds)))
        c.check(len(out) == TOTAL, "%d outputs for %d messages" % (len(out), TOTAL))
        mismatched, wrong_reason, reasons = [], [], collections.defaultdict(collections.Counter)
        for (kind, expect, sid), (topic, payload) in zip(sent, out):
            m = msgpack.unpackb(payload, raw=False)
            if expect is None:
                if not (topic.startswith(OUT) and m.get("signal_id") == sid):
                    mismatched.append((kind, sid, topic, m.get("reason"), m.get("message")))
            elif not topic.startswith(ERR):
                mismatched.append((kind, topic, m.get("signal_id")))
            else:
                reasons[kind][m["reason"]] += 1
                if m["reason"] not in expect:
                    wrong_reason.append((kind, m["reason"], m.get("key"), m.get("message")))
        c.check(not mismatched, "the n-th output answers the n-th message (%d off: %s)"
                % (len(mismatched), mismatched[:3]))
        answered = collections.Counter(msgpack.unpackb(p, raw=False)["signal_id"]
                                       for t, p in out if t.startswith(OUT))
        valid_ids = [sid for k, _, sid in sent if k == "valid"]
        c.check(set(answered) == set(valid_ids) and all(v == 1 for v in answered.values()),
                "each of %d valid signals answered exactly once" % len(valid_ids))
        for kind in sorted(reasons):
            print("  %-13s %s" % (kind, dict(reasons[kind])))
        c.check(not wrong_reason, "every ErrorEvent has the reason expected for its kind %s"
                % wrong_reason[:3])
        for kind in ("garbage", "truncated", "wrong_type", "nan", "negative", "unknown_type",
                     "liar_header", "1MB_string", "million_bars"):
            c.check(kinds[kind] > 0 and sum(reasons[kind].values()) == kinds[kind],
                    "%s: %d sent, %d ErrorEvents" % (kind, kinds[kind], sum(reasons[kind].values())))
        st = node.status()
        n_bad = TOTAL - len(valid_ids)
        c.check(st["errors_total"] == n_bad, "STATUS errors_total %d == %d invalid"
                % (st["errors_total"], n_bad))
        c.check(st["dropped"]["total"] == 0, "STATUS: nothing dropped (%s)" % st["dropped"])
        half = len(rss) // 2
        print("  VmRSS (MB) every 5,000 messages: %s" % " ".join("%.0f" % (r / 1024) for r in rss))
        ceiling = RSS_CEILING_ASAN_KB if asan_node() else RSS_CEILING_KB
        c.check(max(rss) < ceiling, "VmRSS peak %.0f MB < %d MB%s"
                % (max(rss) / 1024, ceiling // 1024, " (ASan build)" if asan_node() else ""))
        growth = RSS_GROWTH_ASAN_KB if asan_node() else RSS_GROWTH_KB
        c.check(rss[-1] <= rss[half - 1] + growth,
                "VmRSS end of second half %.0f MB <= end of first half %.0f MB + %d MB"
                % (rss[-1] / 1024, rss[half - 1] / 1024, growth // 1024))
        pub.close(linger=0)
        ctx.term()
        c.check(node.stop() == 0, "SIGTERM: exit 0")
    finally:
        nodeutil.cleanup()
        tmpdir.cleanup()
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
