#!/usr/bin/python3
"""Every example, run against a real node: the C strategy and the Python
strategy with the Python consumer (ZeroMQ), the embedding program, and the
Redis flow over pub/sub and Streams."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodeutil  # noqa: E402
from nodeutil import BIN, SRC  # noqa: E402

PY = sys.executable
EX = os.path.join(SRC, "examples", "python")


def run_pair(c, node, strategy_cmd, n, label):
    cons = nodeutil.spawn([PY, os.path.join(EX, "consumer.py"), "--endpoint",
                           "tcp://127.0.0.1:%d" % node.enr_port, "--count", str(n), "--timeout",
                           "10", "--show", "2"], stdout=subprocess.PIPE, text=True)
    s = subprocess.run(strategy_cmd, capture_output=True, text=True, timeout=60)
    out, _ = cons.communicate(timeout=60)
    print(s.stdout + out)
    c.check(s.returncode == 0, "%s: the strategy ran (%s)" % (label, s.stderr.strip()[-200:]))
    c.check(cons.returncode == 0 and ("%d enriched signals, 0 errors" % n) in out,
            "%s: the consumer got all %d answers" % (label, n))
    c.check("p50" in out and "p99" in out, "%s: latency figures printed" % label)


def main():
    c = nodeutil.Checker("test_node_examples")
    tmp = nodeutil.workdir("ml4t-node-examples-")
    try:
        node = nodeutil.Node(tmp, "--zmq.sndhwm", "0")
        ep = "tcp://127.0.0.1:%d" % node.sig_port
        run_pair(c, node, [os.path.join(BIN, "ml4t-example-strategy"), "--endpoint", ep,
                           "--signals", "1000", "--instruments", "4", "--rate", "3000",
                           "--bars", "1", "--columnar"], 1000, "C strategy")
        run_pair(c, node, [PY, os.path.join(EX, "strategy.py"), "--endpoint", ep, "--signals",
                           "500", "--instruments", "2", "--rate", "2000"], 500, "Python strategy")
        c.check(node.stop() == 0, "node: SIGTERM exit 0")
        r = subprocess.run([os.path.join(BIN, "ml4t-example-embed"), os.path.join(tmp, "embed")],
                           capture_output=True, text=True, timeout=60)
        print(r.stdout[:300])
        c.check(r.returncode == 0 and '"state":"running"' in r.stdout and "stopped" in r.stdout,
                "embed: STATUS answered over the actor pipe, node stopped")
        rs = nodeutil.Redis(tmp, aof=False)
        for transport, mode in (("redis", "pubsub"), ("streams", "streams")):
            n = nodeutil.Node(tmp, "--transport", transport, "--redis.port", str(rs.port),
                              name="redis-" + mode)
            r = subprocess.run([PY, os.path.join(EX, "redis_flow.py"), "--port", str(rs.port),
                                "--mode", mode, "--signals", "300"], capture_output=True,
                               text=True, timeout=60)
            print(r.stdout)
            c.check(r.returncode == 0 and "300 signals, 300 answers" in r.stdout,
                    "redis_flow.py --mode %s: every signal answered" % mode)
            c.check(n.stop() == 0, "redis node (%s): SIGTERM exit 0" % mode)
    finally:
        nodeutil.cleanup()
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
