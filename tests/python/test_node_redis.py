#!/usr/bin/python3
"""ml4t-node over Redis (a real redis-server on a free loopback port):
  1. pub/sub end to end, 500 signals published at once: every one answered,
     the answers of the backlog written together (STATUS transport.writes);
  2. Streams: redis-server is killed (SIGKILL) mid-stream and restarted from
     its AOF (appendfsync always), several times, while a proxy also drops the
     replies of some answers Redis has written; the node reconnects, and every
     signal written to the stream is answered exactly once (no duplicate, none
     missing, counted by signal_id over the whole output stream);
  3. Streams: a second node in the same consumer group takes over the pending
     entries of a node that was SIGKILLed holding them;
  4. Streams: the same with a node that was only stopped and comes back: its
     late answers are suppressed.
A node is stopped with SIGSTOP and then waited for until every one of its
threads is stopped: one thread takes the signal and stops the others, and
until it has, the hot thread may still read and answer what comes."""
import os
import signal
import sys
import threading
import time

import msgpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodeutil  # noqa: E402
from nodeutil import strategy  # noqa: E402

BARS = strategy.load_bars()


def signals(n, prefix, instruments=3):
    out = []
    for i, (inst, end) in enumerate(strategy.plan(BARS, n, instruments)):
        m = strategy.signal_message(inst, BARS, end, 100 if i < instruments else 1, 1, i)
        m["signal_id"] = "%s-%d" % (prefix, i)
        out.append(m)
    return out


def xadd(r, m):
    r.xadd("nautilus:signals", {"topic": "nautilus:signals",
                                "payload": msgpack.packb(m, use_bin_type=True)})


def answered(r, key="nautilus:enriched_signals"):
    counts = {}
    for _, fields in r.xrange(key):
        m = msgpack.unpackb(fields[b"payload"], raw=False)
        counts[m["signal_id"]] = counts.get(m["signal_id"], 0) + 1
    return counts


def case_pubsub(c, tmp):
    rs = nodeutil.Redis(tmp, aof=False)
    node = nodeutil.Node(tmp, "--transport", "redis", "--redis.port", str(rs.port), name="ps")
    r = rs.client()
    ps = r.pubsub()
    ps.subscribe("nautilus:enriched_signals")
    got = []
    done = threading.Event()

    def listen():
        while not done.is_set():
            msg = ps.get_message(timeout=0.1)
            if msg and msg["type"] == "message":
                got.append(msgpack.unpackb(msg["data"], raw=False))

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    nodeutil.wait_for(lambda: r.pubsub_numpat() >= 3, 5)  # the node's PSUBSCRIBEs
    sent = {m["signal_id"]: m for m in signals(500, "ps")}
    p = r.pipeline(transaction=False)  # all at once: a backlog in the node's socket
    for m in sent.values():
        p.publish("nautilus:signals", msgpack.packb(m, use_bin_type=True))
    p.execute()
    nodeutil.wait_for(lambda: len(got) >= len(sent), 20)
    done.set()
    t.join()
    ps.close()
    ids = [m["signal_id"] for m in got]
    c.check(len(got) == 500 and set(ids) == set(sent), "pub/sub: 500 signals, 500 answers (%d)"
            % len(got))
    bad = [p for m in got for p in nodeutil.check_enriched(m, sent[m["signal_id"]])]
    c.check(not bad, "pub/sub: identity and sane fields %s" % bad[:3])
    tr = node.status()["transport"]
    c.check(tr["sent"] >= 500 and tr["writes"] <= tr["sent"] // 2,
            "pub/sub: a backlog's answers written together (%d answers in %d writes)"
            % (tr["sent"], tr["writes"]))
    c.check(node.stop() == 0, "pub/sub: SIGTERM exit 0")


def xadd_many(r, ms):
    p = r.pipeline(transaction=False)
    for m in ms:
        p.xadd("nautilus:signals", {"topic": "nautilus:signals",
                                    "payload": msgpack.packb(m, use_bin_type=True)})
    p.execute()


def check_once(c, r, sent, what):
    """Every signal of sent answered exactly once in the whole output stream."""
    counts = answered(r)
    missing = sorted(m["signal_id"] for m in sent if m["signal_id"] not in counts)
    twice = sorted(k for k, v in counts.items() if v > 1)
    if missing or twice:
        print("  missing %s, more than once %s" % (missing[:20], twice[:20]))
    c.check(not missing and not twice and len(counts) == len(sent),
            "%s: %d signals, each answered exactly once (%d missing, %d more than once)"
            % (what, len(sent), len(missing), len(twice)))


def case_streams_kill_restart(c, tmp):
    """Several SIGKILL/restart cycles of redis-server (AOF, appendfsync always),
    each mid-stream at a high rate, while a proxy between the node and Redis
    also drops the reply of every 37th answer after Redis wrote it (the window
    a kill hits only by chance). Zero duplicates, zero missing."""
    n, cycles, batch = 1500, 4, 25
    rs = nodeutil.Redis(tmp, aof=True)
    proxy = nodeutil.CutProxy(rs.port, every=37)
    node = nodeutil.Node(tmp, "--transport", "streams", "--redis.port", str(proxy.port),
                         "--redis.consumer", "node-a", "--redis.backoff_max_ms", "100",
                         name="streams")
    sent = signals(n, "st")
    kills = {n * (k + 1) // (cycles + 1) // batch * batch for k in range(cycles)}
    r = rs.client()
    for i in range(0, n, batch):
        if i in kills:  # the node is still answering what came before: work in hand
            rs.kill9()
            time.sleep(0.2)
            rs.start()
            r = rs.client()
        xadd_many(r, sent[i:i + batch])
    ok = nodeutil.wait_for(lambda: len(answered(r)) >= n, 60, step=0.2)
    c.check(ok, "streams: answers for all %d signals arrived" % n)
    c.check(r.xlen("nautilus:signals") == n, "streams: %d entries survive %d restarts"
            % (n, cycles))
    check_once(c, r, sent, "streams, %d kills of Redis and %d lost replies" % (cycles, proxy.cuts))
    c.check(nodeutil.wait_for(lambda: r.xpending("nautilus:signals", "ml4t")["pending"] == 0, 10),
            "streams: nothing left pending (%d)" % r.xpending("nautilus:signals", "ml4t")["pending"])
    st = node.status()
    tr = st["transport"]
    c.check(proxy.cuts >= 10, "streams: the proxy cut %d replies after Redis wrote the answer"
            % proxy.cuts)
    # each cut reply is retried and the retry finds the marker: by the transport,
    # which writes its unanswered scripts again on the new connection, or by the
    # node, which holds an answer refused while Redis was away
    c.check(tr["duplicates"] >= proxy.cuts,
            "streams: every cut answer was retried and suppressed (%d suppressed, %d held "
            "by the node, %d cuts)" % (tr["duplicates"], st["held_for_broker"], proxy.cuts))
    c.check(tr["reconnects"] >= cycles, "streams: the node reconnected (%d)" % tr["reconnects"])
    c.check(node.stop() == 0, "streams: SIGTERM exit 0")
    proxy.close()
    rs.kill9()


def case_streams_takeover(c, tmp):
    rs = nodeutil.Redis(tmp, aof=False)
    r = rs.client()
    common = ["--transport", "streams", "--redis.port", str(rs.port),
              "--redis.claim_min_idle_ms", "300", "--redis.claim_interval_ms", "200"]
    a = nodeutil.Node(tmp, *common, "--redis.consumer", "node-a", name="take-a")
    first = signals(50, "tk1")
    for m in first:
        xadd(r, m)
    nodeutil.wait_for(lambda: len(answered(r)) >= 50, 20, step=0.1)
    # Stopped while its blocking read is in flight: what arrives now is delivered
    # to node-a (pending) but never handled. Then it dies.
    c.check(nodeutil.sigstop(a.proc), "takeover: every thread of node-a is stopped")
    second = signals(40, "tk2")
    for m in second:
        xadd(r, m)
        time.sleep(0.005)
    time.sleep(0.2)
    held = {x["name"].decode(): x["pending"]
            for x in r.xpending("nautilus:signals", "ml4t")["consumers"]}
    a.proc.kill()
    a.proc.wait()
    c.check(held.get("node-a", 0) >= 1, "takeover: the killed node held %d pending entries"
            % held.get("node-a", 0))
    b = nodeutil.Node(tmp, *common, "--redis.consumer", "node-b", name="take-b")
    ok = nodeutil.wait_for(lambda: len(answered(r)) >= 90, 20, step=0.1)
    counts = answered(r)
    c.check(ok, "takeover: all 90 signals answered (%d)" % len(counts))
    check_once(c, r, first + second, "takeover")
    c.check(nodeutil.wait_for(lambda: r.xpending("nautilus:signals", "ml4t")["pending"] == 0, 10),
            "takeover: nothing left pending")
    st = b.status()
    c.check(st["transport"]["claimed"] >= held.get("node-a", 0),
            "takeover: node-b claimed %d" % st["transport"]["claimed"])
    c.check(b.stop() == 0, "takeover: SIGTERM exit 0")
    rs.kill9()


def case_streams_paused_takeover(c, tmp):
    """node-a stops (SIGSTOP) with entries delivered to it but not answered;
    node-b claims and answers them; node-a comes back and answers them too:
    the answers it gives are suppressed, every signal is answered once."""
    rs = nodeutil.Redis(tmp, aof=False)
    r = rs.client()
    common = ["--transport", "streams", "--redis.port", str(rs.port),
              "--redis.claim_min_idle_ms", "300", "--redis.claim_interval_ms", "200"]
    a = nodeutil.Node(tmp, *common, "--redis.consumer", "node-a", name="pause-a")
    first = signals(50, "pa1")
    xadd_many(r, first)
    nodeutil.wait_for(lambda: len(answered(r)) >= 50, 20, step=0.1)
    c.check(nodeutil.sigstop(a.proc), "paused: every thread of node-a is stopped")
    second = signals(40, "pa2")
    for m in second:
        xadd(r, m)
        time.sleep(0.005)
    time.sleep(0.2)
    held = {x["name"].decode(): x["pending"]
            for x in r.xpending("nautilus:signals", "ml4t")["consumers"]}.get("node-a", 0)
    c.check(held >= 1, "paused: node-a holds %d unanswered entries" % held)
    b = nodeutil.Node(tmp, *common, "--redis.consumer", "node-b", name="pause-b")
    ok = nodeutil.wait_for(lambda: len(answered(r)) >= 90, 20, step=0.1)
    c.check(ok, "paused: node-b answered what node-a held")
    a.proc.send_signal(signal.SIGCONT)
    c.check(nodeutil.wait_for(lambda: a.status()["transport"]["duplicates"] >= held, 10),
            "paused: node-a's late answers were suppressed (%d of %d)"
            % (a.status()["transport"]["duplicates"], held))
    check_once(c, r, first + second, "paused takeover")
    c.check(nodeutil.wait_for(lambda: r.xpending("nautilus:signals", "ml4t")["pending"] == 0, 10),
            "paused: nothing left pending")
    c.check(a.stop() == 0 and b.stop() == 0, "paused: both nodes exit 0 on SIGTERM")
    rs.kill9()


def main():
    c = nodeutil.Checker("test_node_redis")
    tmp = nodeutil.workdir("ml4t-node-redis-")
    try:
        for name, fn in (("pubsub", case_pubsub), ("streams_kill_restart", case_streams_kill_restart),
                         ("streams_takeover", case_streams_takeover),
                         ("streams_paused_takeover", case_streams_paused_takeover)):
            if len(sys.argv) > 1 and sys.argv[1] != name:
                continue
            print("case " + name)
            try:
                fn(c, tmp)
            finally:
                nodeutil.cleanup()
    finally:
        nodeutil.cleanup()
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
