#!/usr/bin/python3
"""A Python consumer: prints enriched signals and a latency summary.

    /usr/bin/python3 examples/python/consumer.py --endpoint tcp://127.0.0.1:5556 \
        --count 5000 --show 5

End-to-end latency is the consumer's receive time minus the signal's ts_event
(set by the strategy when it sent the signal; both on this machine's clock);
the node's own time is the answer's latency_ns, with its decode, features,
predict and encode parts. Needs python3-zmq and python3-msgpack.
"""
import argparse
import sys
import time

import msgpack
import zmq


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100.0 * len(s)))]


def describe(m):
    v = m.get("verdict") or {}
    tox = m.get("toxicity")
    return ("%-11s %-14s signal %+d  confidence %.3f  regime %.2f  toxicity %s  size %.3f  "
            "direction %+d  %s" % (m["instrument_id"], m.get("signal_id", ""), m["signal"],
                                    m["meta_confidence"], m["regime_weight"],
                                    "n/a " if tox is None else "%.2f" % tox, m["size"],
                                    m["direction"],
                                    ("allowed" if v.get("allowed") else "blocked: " + v.get("reason", ""))
                                    if v else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--endpoint", default="tcp://127.0.0.1:5556", help="the node's enriched socket")
    ap.add_argument("--count", type=int, default=1000, help="stop after this many answers")
    ap.add_argument("--timeout", type=float, default=30, help="stop after this many idle seconds")
    ap.add_argument("--show", type=int, default=5, help="enriched signals printed")
    ap.add_argument("--ready-file", help="touched once subscribed (for scripts)")
    a = ap.parse_args()

    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 0)
    sub.connect(a.endpoint)
    for ch in (b"nautilus:enriched_signals", b"nautilus:errors"):
        sub.setsockopt(zmq.SUBSCRIBE, ch)
    time.sleep(0.3)
    if a.ready_file:
        open(a.ready_file, "w").close()
    e2e, node, parts = [], [], {"decode": [], "features": [], "predict": [], "encode": []}
    errors, shown, got = 0, 0, 0
    models = {}
    poller = zmq.Poller()
    poller.register(sub, zmq.POLLIN)
    while got < a.count:
        if not poller.poll(int(a.timeout * 1000)):
            break
        topic, payload = sub.recv_multipart()
        now = time.time_ns()
        m = msgpack.unpackb(payload, raw=False)
        if m.get("type") == "ErrorEvent":
            errors += 1
            continue
        got += 1
        e2e.append((now - m["ts_event"]) / 1000.0)
        node.append(m["latency_ns"] / 1000.0)
        for k in parts:
            parts[k].append(m.get("latency_%s_ns" % k, 0) / 1000.0)
        models[m.get("model_version") or "(none)"] = models.get(m.get("model_version") or "(none)", 0) + 1
        if shown < a.show:
            print("  " + describe(m))
            shown += 1
    print("consumer.py: %d enriched signals, %d errors; model %s" %
          (got, errors, ", ".join("%s x%d" % kv for kv in models.items()) or "-"))
    if got:
        print("  end to end (strategy send -> consumer receive): p50 %8.1f us   p99 %8.1f us"
              % (pct(e2e, 50), pct(e2e, 99)))
        print("  in the node (latency_ns):                        p50 %8.1f us   p99 %8.1f us"
              % (pct(node, 50), pct(node, 99)))
        print("    of which decode %.1f, features %.1f, predict %.1f, encode %.1f us (medians)"
              % tuple(pct(parts[k], 50) for k in ("decode", "features", "predict", "encode")))
    sub.close(linger=0)
    ctx.term()
    return 0 if got else 1


if __name__ == "__main__":
    sys.exit(main())
