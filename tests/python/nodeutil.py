"""Helpers for the node's end-to-end tests: free ports, a trained model, the node
and redis-server as child processes that are always killed, and signal messages
built from the bundled month (examples/python/strategy.py)."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SRC = os.environ.get("ML4T_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("ML4T_BIN", os.path.join(SRC, "build", "bin"))
sys.path.insert(0, os.path.join(SRC, "examples", "python"))
import strategy  # noqa: E402  (load_bars, signal_message, plan)

_children = []
_workdirs = []


def workdir(prefix):
    """A fresh directory under the system's temporary one, for a test's logs,
    data and Redis: removed by Checker.done() when every check passed, kept
    (and named) when one failed or the test died, for a look afterwards."""
    d = tempfile.mkdtemp(prefix=prefix)
    _workdirs.append(d)
    return d


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cleanup():
    """Kill every child still running (call in finally)."""
    for p in _children:
        if p.poll() is None:
            p.kill()
            p.wait()
    _children.clear()


def spawn(args, **kw):
    p = subprocess.Popen(args, **kw)
    _children.append(p)
    return p


_model = {}


def trained_model(tmp):
    """A model trained on the bundled month with ml4t-train (a few seconds)."""
    if "path" not in _model:
        out = os.path.join(tmp, "model")
        subprocess.run([os.path.join(BIN, "ml4t-train"), "--bars", strategy.DATA, "--out", out,
                        "--quiet", "--trees", "50"], check=True, timeout=120)
        _model["path"] = os.path.join(out, "model.ubj")
    return _model["path"]


class Node:
    """ml4t-node on free loopback ports."""

    def __init__(self, tmp, *extra, model=True, data_dir=None, name="node", env=None):
        self.sig_port, self.enr_port, self.ctl_port = free_port(), free_port(), free_port()
        self.data_dir = data_dir or tempfile.mkdtemp(prefix=name + "-", dir=tmp)
        self.log = open(os.path.join(tmp, name + ".log"), "w")
        self.logpath = self.log.name
        args = [os.path.join(BIN, "ml4t-node"),
                "--signals", "@tcp://127.0.0.1:%d" % self.sig_port,
                "--enriched", "@tcp://127.0.0.1:%d" % self.enr_port,
                "--control", "@tcp://127.0.0.1:%d" % self.ctl_port,
                "--data-dir", self.data_dir, "--stats-interval", "0",
                "--model-path", trained_model(tmp) if model else os.path.join(tmp, "none.ubj")]
        args += list(extra)
        self.proc = spawn(args, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.wait_ready()

    def ctl(self, *cmd, timeout=5000):
        r = subprocess.run([os.path.join(BIN, "ml4t-ctl"), "--control",
                            "tcp://127.0.0.1:%d" % self.ctl_port, "--timeout", str(timeout)]
                           + list(cmd), capture_output=True, text=True, timeout=timeout / 1000 + 10)
        return r.returncode, (json.loads(r.stdout) if r.stdout.strip() else None), r.stderr

    def status(self):
        rc, doc, err = self.ctl("status")
        assert rc == 0, "status failed: %s" % err
        return doc

    def wait_ready(self, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("ml4t-node exited with %d:\n%s" % (self.proc.returncode,
                                                                      open(self.logpath).read()))
            rc, _, _ = self.ctl("status", timeout=300)
            if rc == 0:
                return
        raise RuntimeError("ml4t-node did not answer on its control socket")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)


class Redis:
    """redis-server on a free loopback port, with AOF (appendfsync always)."""

    def __init__(self, tmp, aof=True):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="redis-", dir=tmp)
        self.aof = aof
        self.start()

    def start(self):
        import redis
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--dir", self.dir, "--daemonize", "no"]
        if self.aof:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        self.proc = spawn(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.time() + 10
        while time.time() < end:
            try:
                if redis.Redis(port=self.port).ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def client(self):
        import redis
        return redis.Redis(port=self.port)


class CutProxy:
    """A TCP proxy in front of redis-server that lets every `every`-th Lua script
    (EVAL, EVALSHA; counted one by one even when a client pipelines them into
    one write, and never on a connection that has not yet carried a reply) run,
    then drops its reply and closes that connection: Redis
    has written what the script wrote, and the client cannot know it. The window
    a SIGKILL of Redis hits only by chance, on demand. A NOSCRIPT reply (the
    script did not run) is passed on. cuts counts the replies dropped."""

    def __init__(self, upstream_port, every):
        self.upstream, self.every = upstream_port, every
        self.scripts = self.cuts = 0
        self.next_cut = every
        self.lock = threading.Lock()
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.closed = True
        self.lsock.close()

    @staticmethod
    def _shut(*socks):
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            try:
                s = socket.create_connection(("127.0.0.1", self.upstream), timeout=1)
                s.settimeout(None)
            except OSError:
                c.close()  # Redis is down: so is the proxy for this client
                continue
            pair = {"cut": False, "answered": False}
            threading.Thread(target=self._c2s, args=(c, s, pair), daemon=True).start()
            threading.Thread(target=self._s2c, args=(c, s, pair), daemon=True).start()

    def _c2s(self, c, s, pair):
        try:
            while True:
                data = c.recv(65536)
                if not data:
                    break
                n = data.count(b"EVAL")  # a pipelining client sends many at once
                if n:
                    with self.lock:
                        self.scripts += n
                        # never before this connection has carried a reply: a
                        # client re-sending what a cut left unanswered gets to
                        # make progress
                        if self.scripts >= self.next_cut and pair["answered"]:
                            pair["cut"] = True  # set before Redis can answer
                            self.next_cut = self.scripts + self.every
                s.sendall(data)
        except OSError:
            pass
        self._shut(c, s)

    def _s2c(self, c, s, pair):
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    break
                if pair["cut"] and not data.startswith(b"-NOSCRIPT"):
                    with self.lock:
                        self.cuts += 1
                    break
                c.sendall(data)
                pair["answered"] = True
        except OSError:
            pass
        self._shut(c, s)


def wait_for(pred, timeout, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def sigstop(proc, timeout=10):
    """SIGSTOP proc and wait until every one of its threads is stopped; False
    when they were not within timeout. One thread takes the signal first and
    then stops the others: until it has, the rest keep running."""
    proc.send_signal(signal.SIGSTOP)
    return wait_for(lambda: _all_stopped(proc.pid), timeout, step=0.01)


def _all_stopped(pid):
    """True when every thread of pid is in state T in /proc."""
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
        for t in tasks:
            with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            if state not in ("T", "t"):
                return False
        return bool(tasks)
    except OSError:
        return False


def check_enriched(m, sent):
    """Identity and sane fields of one answer; sent = the SignalEvent dict."""
    problems = []
    for k in ("instrument_id", "strategy_id", "signal_id", "signal", "ts_event"):
        if m.get(k) != sent.get(k):
            problems.append("%s %r != sent %r" % (k, m.get(k), sent.get(k)))
    if not 0.0 <= m["meta_confidence"] <= 1.0:
        problems.append("meta_confidence %r" % m["meta_confidence"])
    if not 0.0 <= m["size"] <= 1.0:
        problems.append("size %r" % m["size"])
    if m["size"] > 0 and m["direction"] != m["signal"]:
        problems.append("direction %r with signal %r, size %r" % (m["direction"], m["signal"], m["size"]))
    if m["size"] == 0 and m["direction"] != 0:
        problems.append("direction %r with size 0" % m["direction"])
    for k in ("latency_ns", "latency_decode_ns", "latency_encode_ns", "latency_features_ns"):
        if not m.get(k, 0) > 0:
            problems.append("%s %r" % (k, m.get(k)))
    if m["latency_ns"] < m["latency_decode_ns"] + m["latency_features_ns"]:
        problems.append("latency_ns below its parts")
    if m["ts_enriched"] < m["ts_event"]:
        problems.append("ts_enriched before ts_event")
    return problems


class Checker:
    def __init__(self, name):
        self.name, self.failed, self.checks = name, 0, 0

    def check(self, cond, what):
        self.checks += 1
        if cond:
            print("  ok   %s" % what)
        else:
            self.failed += 1
            print("  FAIL %s" % what)

    def done(self):
        """The verdict; removes the test's work directories when it passed."""
        print("%s: %d checks, %d failed" % (self.name, self.checks, self.failed))
        if self.failed:
            for d in _workdirs:
                print("%s: kept for a look: %s" % (self.name, d))
        else:
            cleanup()  # nothing may still write into them
            for d in _workdirs:
                shutil.rmtree(d, ignore_errors=True)
        _workdirs.clear()
        return 1 if self.failed else 0
