#!/usr/bin/python3
"""The strategy/consumer flow over Redis, with python3-redis.

Start a node on Redis first, then:

    ml4t-node --transport redis   --redis.port 6379     # pub/sub
    /usr/bin/python3 examples/python/redis_flow.py --mode pubsub --signals 500

    ml4t-node --transport streams --redis.port 6379     # Streams, consumer group "ml4t"
    /usr/bin/python3 examples/python/redis_flow.py --mode streams --signals 500

pub/sub: PUBLISH nautilus:signals <msgpack>, SUBSCRIBE nautilus:enriched_signals.
Streams: XADD nautilus:signals * topic nautilus:signals payload <msgpack>; the
node XADDs its answers to the stream nautilus:enriched_signals, read here with
XREAD. Prints a few answers and the latency figures.
"""
import argparse
import os
import sys
import time

import msgpack
import redis

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import consumer  # noqa: E402
import strategy  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=6379)
    ap.add_argument("--mode", choices=["pubsub", "streams"], default="pubsub")
    ap.add_argument("--signals", type=int, default=500)
    ap.add_argument("--instruments", type=int, default=3)
    ap.add_argument("--show", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=20)
    a = ap.parse_args()

    r = redis.Redis(host=a.host, port=a.port)
    bars = strategy.load_bars()
    msgs = []
    for i, (inst, end) in enumerate(strategy.plan(bars, a.signals, a.instruments)):
        msgs.append(strategy.signal_message(inst, bars, end, 100 if i < a.instruments else 1, 1,
                                            i, strategy="py-redis-" + a.mode))
    answers = []
    if a.mode == "pubsub":
        ps = r.pubsub()
        ps.subscribe("nautilus:enriched_signals")
        ps.get_message(timeout=1)  # the subscribe confirmation
        for m in msgs:
            m["ts_event"] = time.time_ns()
            r.publish("nautilus:signals", msgpack.packb(m, use_bin_type=True))
        end = time.time() + a.timeout
        while len(answers) < len(msgs) and time.time() < end:
            msg = ps.get_message(timeout=0.5)
            if msg and msg["type"] == "message":
                answers.append((time.time_ns(), msgpack.unpackb(msg["data"], raw=False)))
        ps.close()
    else:
        last = "$"
        for m in msgs:
            m["ts_event"] = time.time_ns()
            r.xadd("nautilus:signals", {"topic": "nautilus:signals",
                                        "payload": msgpack.packb(m, use_bin_type=True)})
        end = time.time() + a.timeout
        last = "0"
        mine = {m["signal_id"] for m in msgs}
        while len(answers) < len(msgs) and time.time() < end:
            for _, entries in r.xread({"nautilus:enriched_signals": last}, count=1000, block=500) or []:
                for eid, fields in entries:
                    last = eid
                    m = msgpack.unpackb(fields[b"payload"], raw=False)
                    if m.get("strategy_id") == "py-redis-streams" and m["signal_id"] in mine:
                        answers.append((time.time_ns(), m))
    for _, m in answers[:a.show]:
        print("  " + consumer.describe(m))
    node = [m["latency_ns"] / 1000.0 for _, m in answers]
    e2e = [(t - m["ts_event"]) / 1000.0 for t, m in answers]
    print("redis_flow.py (%s): %d signals, %d answers; node p50 %.1f us, end to end p50 %.1f us"
          % (a.mode, len(msgs), len(answers), consumer.pct(node, 50), consumer.pct(e2e, 50)))
    return 0 if len(answers) == len(msgs) else 1


if __name__ == "__main__":
    sys.exit(main())
