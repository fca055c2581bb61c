#!/usr/bin/python3
"""ml4t-node with ZeroMQ CURVE, end to end (certificates made with ml4t-cert):
  1. an allowed strategy (its public certificate in zmq.curve_clients_dir) gets
     its signals enriched, and ml4t-ctl with its certificate controls the node;
  2. a client with a valid key pair that is not allowed, and a plain client,
     get nothing enriched, read nothing, and cannot use the control socket;
     the refusals are counted in STATUS (transport.auth_failures);
  3. binding 0.0.0.0 without CURVE prints a warning per endpoint; with CURVE,
     none. (Only loopback traffic is sent.)"""
import os
import subprocess
import sys
import tempfile
import threading
import time

import msgpack
import zmq
import zmq.auth

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nodeutil  # noqa: E402
from nodeutil import strategy  # noqa: E402

SIG, OUT = b"nautilus:signals", b"nautilus:enriched_signals"
CERT = os.path.join(nodeutil.BIN, "ml4t-cert")


class Client:
    """A strategy's PUB and a consumer's SUB with one identity (None = plain)."""

    def __init__(self, node, keys=None, server_public=None):
        self.ctx = zmq.Context()
        self.pub, self.sub = self.ctx.socket(zmq.PUB), self.ctx.socket(zmq.SUB)
        for s in (self.pub, self.sub):
            if keys:
                s.curve_publickey, s.curve_secretkey = keys
                s.curve_serverkey = server_public
            s.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.setsockopt(zmq.RCVTIMEO, 50)
        self.pub.connect("tcp://127.0.0.1:%d" % node.sig_port)
        self.sub.connect("tcp://127.0.0.1:%d" % node.enr_port)
        self.got, self.stop = [], False
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                topic, payload = self.sub.recv_multipart()
            except zmq.Again:
                continue
            if topic.startswith(OUT):
                self.got.append(msgpack.unpackb(payload, raw=False)["signal_id"])
            else:
                self.got.append(topic.decode())

    def send(self, msg):
        self.pub.send_multipart([SIG, msgpack.packb(msg, use_bin_type=True)])

    def close(self):
        self.stop = True
        self.thread.join()
        self.pub.close()
        self.sub.close()
        self.ctx.term()


def make_pki(tmp):
    keys, clients = os.path.join(tmp, "keys"), os.path.join(tmp, "clients")
    os.makedirs(keys)
    os.makedirs(clients)
    for name in ("node", "alice", "mallory"):
        subprocess.run([CERT, "new", name, keys], check=True, capture_output=True)
    os.link(os.path.join(keys, "alice"), os.path.join(clients, "alice"))
    return keys, clients


def ctl(node, *args, timeout=1500):
    r = subprocess.run([os.path.join(nodeutil.BIN, "ml4t-ctl"), "--control",
                        "tcp://127.0.0.1:%d" % node.ctl_port, "--timeout", str(timeout)] + list(args),
                       capture_output=True, text=True, timeout=30)
    return r.returncode


def case_allowed_and_refused(c, tmp, bars):
    keys, clients = make_pki(tmp)
    node_public = zmq.auth.load_certificate(os.path.join(keys, "node"))[0]
    # ml4t-ctl (and so nodeutil's readiness check) speaks as alice
    os.environ["ML4T_CTL_CURVE_CLIENT_CERT"] = os.path.join(keys, "alice_secret")
    os.environ["ML4T_CTL_CURVE_SERVER_KEY"] = os.path.join(keys, "node")
    node = nodeutil.Node(tmp, "--zmq-curve-server-cert", os.path.join(keys, "node_secret"),
                         "--zmq-curve-clients-dir", clients, name="curve")
    alice = Client(node, zmq.auth.load_certificate(os.path.join(keys, "alice_secret")), node_public)
    mallory = plain = None
    try:
        log = open(node.logpath).read()
        c.check("security      CURVE server" in log and "warning" not in log,
                "the node announces CURVE and warns about nothing")
        # alice probes until her subscription is in place
        for i in range(200):
            alice.send(dict(strategy.signal_message("FILUSDT", bars, 30000, 100, 1, 0),
                            signal_id="probe-%d" % i))
            if nodeutil.wait_for(lambda: alice.got, 0.05):
                break
        c.check(bool(alice.got), "an allowed client's signal is enriched")
        alice.got.clear()
        before = node.status()["transport"]["auth_failures"]
        mallory = Client(node, zmq.auth.load_certificate(os.path.join(keys, "mallory_secret")),
                         node_public)
        plain = Client(node)
        n = 300
        for i in range(n):
            end = 30001 + i
            alice.send(dict(strategy.signal_message("FILUSDT", bars, end, 100, 1, i),
                            signal_id="alice-%d" % i))
            mallory.send(dict(strategy.signal_message("FILUSDT", bars, end, 100, 1, i),
                              signal_id="mallory-%d" % i))
            plain.send(dict(strategy.signal_message("FILUSDT", bars, end, 100, 1, i),
                            signal_id="plain-%d" % i))
            time.sleep(0.002)
        nodeutil.wait_for(lambda: len(alice.got) >= n, 20)
        time.sleep(0.3)
        mine = [s for s in alice.got if str(s).startswith("alice-")]
        others = [s for s in alice.got if str(s).startswith(("mallory-", "plain-"))]
        c.check(len(mine) == n, "all %d of the allowed client's signals answered (%d)" % (n, len(mine)))
        c.check(not others, "no signal of a refused client answered (%d)" % len(others))
        c.check(not mallory.got, "a key not in the clients directory reads nothing (%d)"
                % len(mallory.got))
        c.check(not plain.got, "a plain client reads nothing (%d)" % len(plain.got))
        st = node.status()
        c.check(st["transport"]["auth_failures"] > before,
                "refused handshakes counted in STATUS (%d)" % st["transport"]["auth_failures"])
        c.check(st["enriched"] >= n + 1, "STATUS: enriched %d" % st["enriched"])
        # the control socket: alice yes, mallory and a plain client no
        c.check(ctl(node, "status") == 0, "ml4t-ctl with an allowed certificate: answered")
        c.check(ctl(node, "--curve-client-cert", os.path.join(keys, "mallory_secret"), "status") == 3,
                "ml4t-ctl with a key not allowed: no answer")
        env_plain = {k: v for k, v in os.environ.items() if not k.startswith("ML4T_CTL_CURVE")}
        r = subprocess.run([os.path.join(nodeutil.BIN, "ml4t-ctl"), "--control",
                            "tcp://127.0.0.1:%d" % node.ctl_port, "--timeout", "1500", "swap",
                            "/nonexistent"], env=env_plain, capture_output=True, text=True,
                           timeout=30)
        c.check(r.returncode == 3, "plain ml4t-ctl cannot even ask for a swap (exit %d)"
                % r.returncode)
        c.check(node.stop() == 0, "the node stops cleanly")
    finally:
        for cl in (alice, mallory, plain):
            if cl:
                cl.close()
        for k in ("ML4T_CTL_CURVE_CLIENT_CERT", "ML4T_CTL_CURVE_SERVER_KEY"):
            os.environ.pop(k, None)


def start_and_read_log(tmp, name, *extra):
    """Start a node bound on every interface, read its startup lines, stop it."""
    node = nodeutil.Node(tmp, *extra, model=False, name=name)
    node.stop()
    return open(node.logpath).read()


def case_public_bind_warning(c, tmp):
    keys, clients = os.path.join(tmp, "keys"), os.path.join(tmp, "clients")
    p1, p2 = nodeutil.free_port(), nodeutil.free_port()
    log = start_and_read_log(tmp, "open", "--signals", "@tcp://0.0.0.0:%d" % p1,
                             "--enriched", "@tcp://0.0.0.0:%d" % p2)
    warns = [l for l in log.splitlines() if "warning" in l and "without CURVE" in l]
    c.check(len(warns) == 2 and ("0.0.0.0:%d" % p1) in warns[0] and ("0.0.0.0:%d" % p2) in warns[1],
            "plain binds on 0.0.0.0: one warning per endpoint (%d)" % len(warns))
    c.check(not any("127.0.0.1" in w for w in warns), "the loopback control socket: no warning")
    os.environ["ML4T_CTL_CURVE_CLIENT_CERT"] = os.path.join(keys, "alice_secret")
    os.environ["ML4T_CTL_CURVE_SERVER_KEY"] = os.path.join(keys, "node")
    try:
        p1, p2 = nodeutil.free_port(), nodeutil.free_port()
        log = start_and_read_log(tmp, "sealed", "--signals", "@tcp://0.0.0.0:%d" % p1,
                                 "--enriched", "@tcp://0.0.0.0:%d" % p2,
                                 "--zmq-curve-server-cert", os.path.join(keys, "node_secret"),
                                 "--zmq-curve-clients-dir", clients)
    finally:
        for k in ("ML4T_CTL_CURVE_CLIENT_CERT", "ML4T_CTL_CURVE_SERVER_KEY"):
            os.environ.pop(k, None)
    c.check("without CURVE" not in log, "CURVE binds on 0.0.0.0: no warning")
    # clients/alice has no alice_secret beside it: a public certificate only
    r = subprocess.run([os.path.join(nodeutil.BIN, "ml4t-node"), "--zmq-curve-server-cert",
                        os.path.join(clients, "alice"), "--zmq-curve-clients-dir", clients,
                        "--data-dir", os.path.join(tmp, "d"), "--control", ""],
                       capture_output=True, text=True, timeout=30)
    c.check(r.returncode == 1 and "zmq.curve_server_cert" in r.stderr and "secret" in r.stderr,
            "a public certificate given as the node's own: refused, naming the key (exit %d)"
            % r.returncode)
    c.check("secret-key" not in r.stderr, "no key material in the message")


def main():
    c = nodeutil.Checker("test_node_curve")
    bars = strategy.load_bars()
    with tempfile.TemporaryDirectory(prefix="ml4t-curve-") as tmp:
        try:
            case_allowed_and_refused(c, tmp, bars)
            case_public_bind_warning(c, tmp)
        finally:
            nodeutil.cleanup()
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
