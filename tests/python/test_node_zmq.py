#!/usr/bin/python3
"""ml4t-node over ZeroMQ, end to end, with a real model:
  1. 10,000 signals from a Python strategy over tcp loopback: every one is
     answered exactly once, with its identity and sane fields;
  2. malformed input (garbage, truncated msgpack, wrong types, a NaN price,
     an unknown type, an unmatched outcome) is answered with ErrorEvents naming
     the reason and key, counted, and the node keeps serving;
  3. a RiskStateEvent at the drawdown limit blocks the next signal (verdict not
     allowed, size 0)."""
import os
import sys
import threading
import time

import msgpack
import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodeutil  # noqa: E402
from nodeutil import strategy  # noqa: E402

SIG, OUT, ERR = b"nautilus:signals", b"nautilus:enriched_signals", b"nautilus:errors"
POL = b"nautilus:policy"


class Link:
    """A strategy's two sockets to the node, and a thread collecting answers."""

    def __init__(self, node):
        self.ctx = zmq.Context()
        self.pub = self.ctx.socket(zmq.PUB)
        self.pub.setsockopt(zmq.SNDHWM, 0)
        self.pub.connect("tcp://127.0.0.1:%d" % node.sig_port)
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.RCVHWM, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, OUT)
        self.sub.setsockopt(zmq.SUBSCRIBE, ERR)
        self.sub.setsockopt(zmq.SUBSCRIBE, POL)
        self.sub.setsockopt(zmq.RCVTIMEO, 100)
        self.sub.connect("tcp://127.0.0.1:%d" % node.enr_port)
        self.answers, self.errors, self.policies, self.stop = [], [], [], False
        self.thread = threading.Thread(target=self._run)
        self.thread.start()
        # a probe signal until one is answered: both subscriptions are in place
        bars = strategy.load_bars()
        probe = strategy.signal_message("PROBE", bars, 200, 150, 1, 0)
        for _ in range(100):
            self.send(SIG, probe)
            if nodeutil.wait_for(lambda: self.answers, 0.1):
                break
        self.answers.clear()

    def _run(self):
        while not self.stop:
            try:
                topic, payload = self.sub.recv_multipart()
            except zmq.Again:
                continue
            m = msgpack.unpackb(payload, raw=False)
            if topic.startswith(POL):
                self.policies.append(m)
            else:
                (self.errors if topic.startswith(ERR) else self.answers).append(m)

    def send(self, topic, msg):
        payload = msg if isinstance(msg, bytes) else msgpack.packb(msg, use_bin_type=True)
        self.pub.send_multipart([topic, payload])

    def close(self):
        self.stop = True
        self.thread.join()
        self.pub.close(linger=0)
        self.sub.close(linger=0)
        self.ctx.term()


def case_ten_thousand(c, node, link, bars):
    n = 10000
    sent = {}
    t0 = time.time()
    for i, (inst, end) in enumerate(strategy.plan(bars, n, 10)):
        # a full window every 50 signals (overlapping bars are merged), else the newest bar
        nb = 100 if i < 10 or i % 50 == 0 else 1
        m = strategy.signal_message(inst, bars, end, nb, 1 if i % 3 else -1, i,
                                    columnar=(i % 2 == 1))
        sent[m["signal_id"]] = m
        link.send(SIG, m)
        if i % 500 == 499:
            time.sleep(0.05)  # about 8,000 a second: the test is about delivery, not rate
    nodeutil.wait_for(lambda: len(link.answers) >= n, 60)
    time.sleep(0.3)  # anything extra would show now
    print("  %d signals sent in %.1f s, %d answers" % (n, time.time() - t0, len(link.answers)))
    counts = {}
    for m in link.answers:
        counts[m["signal_id"]] = counts.get(m["signal_id"], 0) + 1
    c.check(len(link.answers) == n, "10,000 answers (got %d)" % len(link.answers))
    c.check(set(counts) == set(sent), "every signal_id answered (missing %d, unknown %d)"
            % (len(set(sent) - set(counts)), len(set(counts) - set(sent))))
    c.check(all(v == 1 for v in counts.values()), "each answered exactly once")
    bad = []
    for m in link.answers:
        p = nodeutil.check_enriched(m, sent[m["signal_id"]]) if m["signal_id"] in sent else ["?"]
        if p:
            bad.append((m["signal_id"], p))
    c.check(not bad, "identity and sane fields in every answer %s" % (bad[:3] if bad else ""))
    c.check(all(m["model_available"] for m in link.answers), "model_available in every answer")
    c.check(not link.errors, "no ErrorEvent (%d)" % len(link.errors))
    st = node.status()
    c.check(st["enriched"] >= n and st["errors_total"] == 0, "STATUS: enriched %d, errors %d"
            % (st["enriched"], st["errors_total"]))
    c.check(st["latency_ns"]["p50"] > 0 and st["latency_ns"]["p99"] >= st["latency_ns"]["p50"],
            "STATUS latency p50 %s ns <= p99 %s ns" % (st["latency_ns"]["p50"], st["latency_ns"]["p99"]))
    link.answers.clear()


def case_malformed(c, node, link, bars):
    good = strategy.signal_message("FILUSDT", bars, 30000, 100, 1, 0)
    good["signal_id"] = "after-garbage"
    packed = msgpack.packb(good, use_bin_type=True)
    wrong = dict(good, signal="up")
    nan = dict(good, bars=[list(b) for b in bars[29901:30001]])
    nan["bars"][4][4] = float("nan")
    unknown = {"type": "NoSuchEvent", "v": 1}
    outcome = {"type": "OutcomeEvent", "v": 1, "instrument_id": "FILUSDT",
               "signal_id": "never-sent", "label": 1}
    cases = [(SIG, b"\x00garbage\xff", "malformed", None),
             (SIG, packed[:len(packed) // 2], "malformed", None),
             (SIG, wrong, "wrong_type", "signal"),
             (SIG, nan, "out_of_range", "bars[4].close"),
             (SIG, unknown, "unsupported", "type"),
             (b"nautilus:outcomes", outcome, "not_found", None)]
    for topic, msg, _, _ in cases:
        link.send(topic, msg)
    link.send(SIG, packed)
    nodeutil.wait_for(lambda: len(link.errors) >= len(cases) and link.answers, 10)
    reasons = [e["reason"] for e in link.errors]
    c.check(len(link.errors) == len(cases), "%d ErrorEvents for %d bad messages"
            % (len(link.errors), len(cases)))
    for (_, _, reason, key), e in zip(cases, link.errors):
        ok = e["reason"] == reason and (key is None or e.get("key") == key)
        c.check(ok, "ErrorEvent reason %s key %r (got %s %r: %s)"
                % (reason, key, e["reason"], e.get("key"), e.get("message")))
    c.check(any(a["signal_id"] == "after-garbage" for a in link.answers),
            "the valid signal after the garbage is answered")
    st = node.status()
    c.check(st["errors"].get("malformed") == 2 and st["errors"].get("not_found") == 1,
            "STATUS counts errors by reason: %s" % st["errors"])
    c.check(node.proc.poll() is None, "the node still runs (reasons seen: %s)" % reasons)
    link.answers.clear()
    link.errors.clear()


def case_drawdown_blocks(c, node, link, bars):
    risk = {"type": "RiskStateEvent", "v": 1, "daily_pnl_pct": -3.4, "drawdown_pct": 3.5,
            "losing_streak": 2, "open_positions": 1, "total_exposure_pct": 4.0,
            "ts_event": time.time_ns()}
    link.send(b"nautilus:risk_state", risk)
    sig = strategy.signal_message("FILUSDT", bars, 30001, 1, 1, 0)
    sig["signal_id"] = "under-drawdown"
    link.send(SIG, sig)
    nodeutil.wait_for(lambda: link.answers, 10)
    a = link.answers[0] if link.answers else {}
    v = a.get("verdict") or {}
    c.check(a.get("signal_id") == "under-drawdown", "the signal is answered")
    c.check(v.get("allowed") is False, "verdict not allowed: %r" % v.get("reason"))
    c.check("drawdown" in v.get("reason", ""), "the reason names the drawdown")
    c.check(a.get("size") == 0 and a.get("direction") == 0, "size 0, direction 0")
    nodeutil.wait_for(lambda: any(not p["allow_new_trades"] for p in link.policies), 5)
    blocked = [p for p in link.policies if not p["allow_new_trades"]]
    c.check(len(blocked) == 1 and blocked[0]["type"] == "TradingPolicy"
            and "drawdown_limit" in blocked[0]["rules"] and blocked[0]["max_risk_pct"] == 0,
            "the blocking TradingPolicy is published once on nautilus:policy (%s)"
            % (blocked[0]["block_reason"] if blocked else "none"))
    st = node.status()
    c.check(st["policy"]["allow_new_trades"] is False, "STATUS policy: no new trades (%s)"
            % st["policy"]["block_reason"])


def main():
    c = nodeutil.Checker("test_node_zmq")
    tmp = nodeutil.workdir("ml4t-node-zmq-")
    try:
        node = nodeutil.Node(tmp, "--zmq.sndhwm", "0", "--zmq.rcvhwm", "0")
        link = Link(node)
        bars = strategy.load_bars()
        try:
            print("case ten_thousand"); case_ten_thousand(c, node, link, bars)
            print("case malformed"); case_malformed(c, node, link, bars)
            print("case drawdown_blocks"); case_drawdown_blocks(c, node, link, bars)
        finally:
            link.close()
        c.check(node.stop() == 0, "SIGTERM: exit 0")
    finally:
        nodeutil.cleanup()
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
