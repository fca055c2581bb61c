#!/usr/bin/python3
"""ml4t-ctl against a running ml4t-node, configuration errors, and SIGTERM:
  1. invalid settings from a ZPL file, the environment and flags are all named
     in one message, exit 2, nothing bound;
  2. status / train / swap / rollback / reload over the control socket;
  3. SIGTERM: exit 0 with the history store flushed (every prediction in it);
  4. --store.history off: refused with retrain on; with retrain off every
     signal answered, nothing recorded;
  5. ml4t-ctl with no node: a clear message and exit 3."""
import json
import os
import socket
import sqlite3
import struct
import subprocess
import sys
import time

import msgpack
import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodeutil  # noqa: E402
from nodeutil import BIN, strategy  # noqa: E402


def case_config_errors(c, tmp):
    zpl = os.path.join(tmp, "bad.zpl")
    with open(zpl, "w") as f:
        f.write("node\n    transport = carrier-pigeon\nredis\n    port = 99999\n"
                "model\n    default_confidence = 1.5\n")
    port = nodeutil.free_port()
    env = dict(os.environ, ML4T_STATS_INTERVAL="often")
    r = subprocess.run([os.path.join(BIN, "ml4t-node"), "--config", zpl, "--zmq-sndhwm", "-1",
                        "--signals", "@tcp://127.0.0.1:%d" % port, "--no-such-option", "1",
                        "--store-nice", "20"],
                       capture_output=True, text=True, env=env, timeout=20)
    c.check(r.returncode == 2, "invalid configuration: exit 2 (%d)" % r.returncode)
    for needle in ("carrier-pigeon", "99999", "default_confidence", "ML4T_STATS_INTERVAL",
                   "zmq-sndhwm", "no-such-option", "store-nice"):
        c.check(needle in r.stderr, "the message names %s" % needle)
    with socket.socket() as s:  # nothing was bound
        c.check(s.connect_ex(("127.0.0.1", port)) != 0, "nothing bound")
    r = subprocess.run([os.path.join(BIN, "ml4t-node"), "--help"], capture_output=True, text=True)
    c.check(r.returncode == 0 and "--redis.port" in r.stdout and "[6379]" in r.stdout
            and "ML4T_REDIS_PORT" in r.stdout, "--help lists options, defaults and variables")
    with open(zpl, "w") as f:
        f.write("redis\n    port = 6390\nnode\n    stats_interval = 3\n    retrain = off\n"
                "store\n    history = off\n")
    r = subprocess.run([os.path.join(BIN, "ml4t-node"), "--config", zpl, "--print-config",
                        "--stats-interval", "4", "--store.nice", "7"], capture_output=True,
                       text=True, env=dict(os.environ, ML4T_REDIS_PORT="6391"))
    c.check("redis.port = 6391" in r.stdout and "stats_interval = 4" in r.stdout
            and "store.nice = 7" in r.stdout,
            "precedence: flags over environment over file")
    c.check(r.returncode == 0 and "store.history = off" in r.stdout,
            "every option's section is a ZPL section (store)")


def thread_names(pid):
    """The names of a process's threads, from /proc/<pid>/task/*/comm."""
    names = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                names.append(f.read().strip())
        except OSError:
            pass  # the thread ended between the listing and the read
    return names


def feed(node, n_signals, bars, start=200, nbars=100):
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.connect("tcp://127.0.0.1:%d" % node.sig_port)
    time.sleep(0.4)
    for i in range(n_signals):
        m = strategy.signal_message("FILUSDT", bars, start + i * nbars, nbars, 1, i)
        pub.send_multipart([b"nautilus:signals", msgpack.packb(m, use_bin_type=True)])
        time.sleep(0.002)
    pub.close(linger=2000)
    ctx.term()


def case_ctl(c, tmp):
    bars = strategy.load_bars()
    node = nodeutil.Node(tmp, "--train.trees", "20", "--train.threads", "1", name="ctl")
    st = node.status()
    c.check(st["model"]["available"], "status: a model is served (%s)" % st["model"]["version"])
    first = st["model"]["version"]
    names = thread_names(node.proc.pid)
    c.check({"ml4t-hot", "ml4t-store", "ml4t-supervisor", "ml4t-sup-actor"} <= set(names),
            "threads named for ps -L / top -H: %s" % sorted(names))
    with open("/proc/%d/comm" % node.proc.pid) as f:
        comm = f.read().strip()
    c.check(comm == "ml4t-node", "the process keeps its name through its re-exec: %r" % comm)
    feed(node, 250, bars)  # 25,000 real bars stored: enough for a walk-forward retrain
    c.check(nodeutil.wait_for(lambda: node.status()["enriched"] >= 250, 20), "250 signals answered")
    st = node.status()
    mem = st.get("memory", {})
    c.check(st["store_history"] is True, "status: history is recorded by default")
    c.check(st["store_transactions"] >= 1 and st["store_cache_bytes"] > 0,
            "status: the store's commits and page caches (%d, %d bytes)"
            % (st["store_transactions"], st["store_cache_bytes"]))
    c.check(0 < st["store_slowest_tx_ms"] < 60000,
            "status: the slowest store transaction (%s ms)" % st["store_slowest_tx_ms"])
    if "ASAN_OPTIONS" in os.environ:  # a sanitizer's malloc: glibc's figures do not exist
        c.check("memory" not in st, "status: no allocator view under a sanitizer")
    else:
        c.check(mem.get("heap_in_use_bytes", 0) > 1 << 20 and "heap_free_bytes" in mem,
                "status: the allocator's view %s" % mem)
    rc, doc, _ = node.ctl("train")
    c.check(rc == 0 and doc["ok"], "train: accepted (%s)" % doc)
    ok = nodeutil.wait_for(lambda: node.status()["supervisor"]["runs"] >= 1
                           and not node.status()["supervisor"]["busy"], 60, step=0.2)
    sup = node.status()["supervisor"]
    c.check(ok and sup["last_result"].startswith(("accepted", "refused")),
            "train: a run finished and was judged: %s" % sup["last_result"])
    # two model files with distinct versions: swap both in, then roll back
    out2 = os.path.join(tmp, "model2")
    subprocess.run([os.path.join(BIN, "ml4t-train"), "--bars", strategy.DATA, "--out", out2,
                    "--quiet", "--trees", "10"], check=True, timeout=120)
    rc, doc, _ = node.ctl("swap", nodeutil.trained_model(tmp), timeout=60000)
    c.check(rc == 0 and doc["ok"], "swap model 1: %s" % doc)
    rc, doc, _ = node.ctl("swap", os.path.join(out2, "model.ubj"), timeout=60000)
    c.check(rc == 0 and doc["ok"], "swap model 2: %s" % doc)
    v2 = node.status()["model"]["version"]
    rc, doc, _ = node.ctl("rollback", timeout=60000)
    v_back = node.status()["model"]["version"]
    c.check(rc == 0 and doc["ok"] and v_back != v2, "rollback: %s -> %s" % (v2, v_back))
    rc, doc, _ = node.ctl("swap", "/nonexistent/model.ubj", timeout=60000)
    c.check(rc == 1 and doc["ok"] is False and doc["error"], "swap of a missing file: exit 1, %r"
            % (doc or {}).get("error"))
    r = subprocess.run([os.path.join(BIN, "ml4t-ctl"), "--control",
                        "tcp://127.0.0.1:%d" % node.ctl_port, "bogus"], capture_output=True,
                       text=True)
    c.check(r.returncode == 2, "unknown command: exit 2")
    c.check(first != "", "the first model was %s" % first)
    # SIGTERM with predictions queued: every one is in the store afterwards
    enriched = node.status()["enriched"]
    c.check(node.stop() == 0, "SIGTERM: exit 0")
    db = sqlite3.connect(os.path.join(node.data_dir, "history.sqlite3"))
    rows = db.execute("select count(*) from predictions").fetchone()[0]
    # bars are stored in blocks (docs/runtime.md): decoded here on their own,
    # with struct, as any other program would
    nbars, layout_ok, blocks = 0, True, 0
    for inst, first, last, n, data in db.execute(
            "select instrument, ts_first, ts_last, n, data from bar_blocks"
            " order by instrument, ts_first"):
        bars_ = list(struct.iter_unpack("<q6d", data)) if len(data) == 56 * n else []
        ts = [b[0] for b in bars_]
        layout_ok = layout_ok and len(bars_) == n and ts[0] == first and ts[-1] == last \
            and all(x < y for x, y in zip(ts, ts[1:])) \
            and all(b[3] <= min(b[1], b[4]) and b[2] >= max(b[1], b[4]) for b in bars_)
        nbars, blocks = nbars + n, blocks + 1
    db.close()
    c.check(rows == enriched, "store flushed: %d predictions for %d answers" % (rows, enriched))
    c.check(nbars >= 25000, "store flushed: %d bars" % nbars)
    c.check(layout_ok and blocks < nbars / 10,
            "bars in %d blocks, each in the documented layout, increasing, low <= open/close"
            " <= high" % blocks)
    c.check(os.path.exists(os.path.join(node.data_dir, "policy_history.json")),
            "SIGTERM: the policy history was saved")
    # a restart on the same data_dir: the registry's live model, the instrument's
    # history and the policy come back, so a signal with only its newest bar is served
    node2 = nodeutil.Node(tmp, "--train.trees", "20", "--train.threads", "1",
                          data_dir=node.data_dir, name="ctl-restart")
    st2 = node2.status()
    c.check(st2["model"]["version"] == v_back,
            "restart: the live model %s is back (%s)" % (v_back, st2["model"]["version"]))
    c.check("restored the history of 1 instrument" in open(node2.logpath).read(),
            "restart: the instrument's history was restored")
    ctx = zmq.Context()
    pub, sub = ctx.socket(zmq.PUB), ctx.socket(zmq.SUB)
    sub.connect("tcp://127.0.0.1:%d" % node2.enr_port)
    sub.setsockopt(zmq.SUBSCRIBE, b"nautilus:")
    pub.connect("tcp://127.0.0.1:%d" % node2.sig_port)
    time.sleep(0.5)
    m = strategy.signal_message("FILUSDT", bars, 200 + 250 * 100, 1, 1, 99999)
    pub.send_multipart([b"nautilus:signals", msgpack.packb(m, use_bin_type=True)])
    got = None
    end = time.time() + 5
    while got is None and time.time() < end and sub.poll(500):
        topic, payload = sub.recv_multipart()
        if topic in (b"nautilus:enriched_signals", b"nautilus:errors"):
            got = (topic, msgpack.unpackb(payload, raw=False))
    c.check(got is not None and got[0] == b"nautilus:enriched_signals"
            and got[1].get("signal_id") == "py-99999" and got[1].get("model_available"),
            "restart: a one-bar signal is answered at once (%s)"
            % (got[1] if got else "no answer"))
    pub.close(0)
    sub.close(0)
    ctx.term()
    c.check(node2.stop() == 0, "restart: SIGTERM exit 0")


def case_history_off(c, tmp):
    bars = strategy.load_bars()
    r = subprocess.run([os.path.join(BIN, "ml4t-node"), "--store.history", "off",
                        "--data-dir", os.path.join(tmp, "refused")],
                       capture_output=True, text=True, timeout=20)
    c.check(r.returncode == 2 and "store.history=off with retrain=on" in r.stderr
            and "retrain off" in r.stderr,
            "history off with retrain on (the default) is refused, naming both (%d: %s)"
            % (r.returncode, r.stderr.strip()[:200]))
    node = nodeutil.Node(tmp, "--store.history", "off", "--retrain", "off", name="nohist")
    feed(node, 50, bars)
    c.check(nodeutil.wait_for(lambda: node.status()["enriched"] >= 50, 20),
            "history off: 50 signals answered")
    st = node.status()
    c.check(st["store_history"] is False, "history off: status says so")
    c.check(st["stored"] == 0 and st["dropped"]["store"] == 0,
            "history off: nothing stored, nothing counted as dropped (%d, %d)"
            % (st["stored"], st["dropped"]["store"]))
    c.check(node.stop() == 0, "history off: SIGTERM exit 0")
    db = sqlite3.connect(os.path.join(node.data_dir, "history.sqlite3"))
    counts = [db.execute("select count(*) from %s" % t).fetchone()[0]
              for t in ("bar_blocks", "predictions", "outcomes")]
    db.close()
    c.check(counts == [0, 0, 0], "history off: no bars, predictions or outcomes %s" % counts)


def case_no_node(c, tmp):
    port = nodeutil.free_port()
    t0 = time.time()
    r = subprocess.run([os.path.join(BIN, "ml4t-ctl"), "--control", "tcp://127.0.0.1:%d" % port,
                        "--timeout", "500", "status"], capture_output=True, text=True, timeout=20)
    c.check(r.returncode == 3 and "no answer" in r.stderr, "no node: exit 3, %r" % r.stderr.strip())
    c.check(time.time() - t0 < 10, "no node: gives up")


def main():
    c = nodeutil.Checker("test_node_ctl")
    tmp = nodeutil.workdir("ml4t-node-ctl-")
    try:
        print("case config_errors"); case_config_errors(c, tmp)
        print("case ctl"); case_ctl(c, tmp)
        print("case history_off"); case_history_off(c, tmp)
        print("case no_node"); case_no_node(c, tmp)
    finally:
        nodeutil.cleanup()
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
