#!/usr/bin/python3
"""ml4t-node with the failover transport (ZeroMQ primary, Redis pub/sub
fallback): signals flow over ZeroMQ; the primary's peers stop mid-stream; the
node moves to Redis and the stream continues there, every signal answered."""
import os
import sys
import threading
import time

import msgpack
import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodeutil  # noqa: E402
from nodeutil import strategy  # noqa: E402


def main():
    c = nodeutil.Checker("test_node_failover")
    tmp = nodeutil.workdir("ml4t-node-failover-")
    bars = strategy.load_bars()
    sent = {}
    for i, (inst, end) in enumerate(strategy.plan(bars, 600, 3)):
        m = strategy.signal_message(inst, bars, end, 100 if i < 3 else 1, 1, i)
        sent[m["signal_id"]] = m
    msgs = list(sent.values())
    try:
        rs = nodeutil.Redis(tmp, aof=False)
        node = nodeutil.Node(tmp, "--transport", "failover", "--redis.port", str(rs.port),
                             "--failover.failback_ms", "300", "--zmq.heartbeat_ivl_ms", "100",
                             "--zmq.heartbeat_timeout_ms", "300")
        r = rs.client()
        via_redis = []
        ps = r.pubsub()
        ps.subscribe("nautilus:enriched_signals")
        stop = threading.Event()

        def listen():
            while not stop.is_set():
                msg = ps.get_message(timeout=0.1)
                if msg and msg["type"] == "message":
                    via_redis.append(msgpack.unpackb(msg["data"], raw=False))

        t = threading.Thread(target=listen)
        t.start()
        ctx = zmq.Context()
        pub, sub = ctx.socket(zmq.PUB), ctx.socket(zmq.SUB)
        pub.setsockopt(zmq.SNDHWM, 0)
        pub.connect("tcp://127.0.0.1:%d" % node.sig_port)
        sub.setsockopt(zmq.SUBSCRIBE, b"nautilus:enriched_signals")
        sub.connect("tcp://127.0.0.1:%d" % node.enr_port)
        active = lambda: node.status()["transport"]["active"]  # noqa: E731
        c.check(nodeutil.wait_for(lambda: active() == 0, 10), "primary active with peers on both sides")
        time.sleep(0.3)
        for m in msgs[:300]:
            pub.send_multipart([b"nautilus:signals", msgpack.packb(m, use_bin_type=True)])
            time.sleep(0.001)
        via_zmq = []
        sub.setsockopt(zmq.RCVTIMEO, 2000)
        try:
            while len(via_zmq) < 300:
                via_zmq.append(msgpack.unpackb(sub.recv_multipart()[1], raw=False))
        except zmq.Again:
            pass
        c.check({m["signal_id"] for m in via_zmq} == {m["signal_id"] for m in msgs[:300]},
                "first 300 answered over ZeroMQ (%d)" % len(via_zmq))
        # the primary stops: its peers go away
        pub.close(linger=0)
        sub.close(linger=0)
        c.check(nodeutil.wait_for(lambda: active() == 1, 10), "the node moved to the fallback")
        for m in msgs[300:]:
            r.publish("nautilus:signals", msgpack.packb(m, use_bin_type=True))
        nodeutil.wait_for(lambda: len(via_redis) >= 300, 20)
        stop.set()
        t.join()
        ids = [m["signal_id"] for m in via_redis]
        c.check(set(ids) == {m["signal_id"] for m in msgs[300:]} and len(ids) == 300,
                "the other 300 answered over Redis (%d)" % len(ids))
        bad = [p for m in via_zmq + via_redis for p in nodeutil.check_enriched(m, sent[m["signal_id"]])]
        c.check(not bad, "identity and sane fields %s" % bad[:3])
        st = node.status()
        c.check(st["transport"]["switches"] >= 1, "switches counted (%d)" % st["transport"]["switches"])
        ps.close()
        ctx.term()
        c.check(node.stop() == 0, "SIGTERM: exit 0")
    finally:
        nodeutil.cleanup()
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
