#!/usr/bin/python3
"""Soak run of ml4t-node over ZeroMQ (a script, not a CI test).

    /usr/bin/python3 tests/soak/soak.py --minutes 10 --rate 20000
    (or scripts/soak.sh, which builds first)

One sender process publishes SignalEvents at --rate (one new bar each, over
--instruments instruments whose bars are the bundled month replayed forward
with timestamps that keep increasing), one receiver process reads every
answer. Every minute: a retrain (ml4t-ctl train), and half a minute later a
swap of a model file or a rollback (alternating). Retrains use the newest
--max-train-bars stored bars (default 100,000, reached after 100 s at the
default rate). Reported per minute:
signals sent and answered, end-to-end latency percentiles (wall clock, sender
stamp to receiver) and the node's own latency_ns p99, VmRSS, drops, the live
model. At the end: lost (sent and never answered), duplicates, RSS growth
after warm-up (from the end of the first minute whose retrain ran on a full
training window), and p99 per minute.
Exit 0 when nothing was lost or duplicated and RSS grew <= 5 % after warm-up."""
import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
import nodeutil  # noqa: E402
from nodeutil import BIN, strategy  # noqa: E402

SIG, OUT, ERR = b"nautilus:signals", b"nautilus:enriched_signals", b"nautilus:errors"
MINUTE_NS = 60_000_000_000


def sender(port, rate, seconds, n_inst, sent_count, done):
    import msgpack
    import zmq
    bars = strategy.load_bars()
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 0)
    pub.connect("tcp://127.0.0.1:%d" % port)
    time.sleep(1.0)  # subscriptions in place (the receiver joined before)
    month = len(bars)
    span = month // n_inst
    pos = [100 + k * span for k in range(n_inst)]
    names = ["SOAK%02d" % k for k in range(n_inst)]
    base_ts = bars[0][0]
    step_ns = bars[1][0] - bars[0][0]
    packb = msgpack.Packer(use_bin_type=True).pack
    # the first signal of each instrument carries 100 bars
    for k in range(n_inst):
        w = [[base_ts + j * step_ns] + list(bars[j][1:]) for j in range(pos[k] - 99, pos[k] + 1)]
        m = {"type": "SignalEvent", "v": 1, "instrument_id": names[k], "strategy_id": "soak",
             "signal_id": "w-%d" % k, "signal": 1, "ts_event": time.time_ns(), "bars": w}
        pub.send_multipart([SIG, packb(m)])
    seq, t0 = 0, time.monotonic()
    batch = max(1, rate // 200)
    while time.monotonic() - t0 < seconds:
        for _ in range(batch):
            k = seq % n_inst
            i = pos[k] + seq // n_inst + 1  # bar index along this instrument's replay
            b = bars[i % month]
            ts = base_ts + i * step_ns  # keeps increasing across replays of the month
            m = {"type": "SignalEvent", "v": 1, "instrument_id": names[k], "strategy_id": "soak",
                 "signal_id": "s-%d" % seq, "signal": 1 if seq % 3 else -1,
                 "ts_event": time.time_ns(), "bars": [[ts, b[1], b[2], b[3], b[4], b[5], b[6]]]}
            pub.send_multipart([SIG, packb(m)])
            seq += 1
        sent_count.value = seq
        ahead = t0 + seq / rate - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    sent_count.value = seq
    done.set()
    pub.close(linger=10000)
    ctx.term()


def receiver(port, q_ready, stop, out_q, max_seq):
    import msgpack
    import zmq
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 0)
    sub.setsockopt(zmq.SUBSCRIBE, OUT)
    sub.setsockopt(zmq.SUBSCRIBE, ERR)
    sub.connect("tcp://127.0.0.1:%d" % port)
    seen = bytearray(max_seq)
    uniq = dups = errors = other = 0
    per_min = {}  # minute -> [e2e latencies (us, sampled), node latencies (us, sampled), count]
    start = time.time_ns()
    q_ready.put(True)
    unpackb = msgpack.unpackb
    poller = zmq.Poller()
    poller.register(sub, zmq.POLLIN)
    n = 0
    while not stop.is_set() or poller.poll(0):
        if not poller.poll(100):
            continue
        topic, payload = sub.recv_multipart()
        now = time.time_ns()
        m = unpackb(payload, raw=False)
        if topic.startswith(ERR):
            errors += 1
            continue
        sid = m.get("signal_id", "")
        if not sid.startswith("s-"):
            other += 1
            continue
        s = int(sid[2:])
        if seen[s]:
            dups += 1
        else:
            seen[s] = 1
            uniq += 1
        n += 1
        bucket = per_min.setdefault((now - start) // MINUTE_NS, [[], [], 0])
        bucket[2] += 1
        if n % 10 == 0:  # a 10 % sample keeps the receiver light
            bucket[0].append((now - m["ts_event"]) / 1000.0)
            bucket[1].append(m["latency_ns"] / 1000.0)
    out_q.put({"uniq": uniq, "dups": dups, "errors": errors, "other": other,
               "per_min": per_min})
    sub.close(linger=0)
    ctx.term()


def pct(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))]


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_parts_kb(pid):
    """VmRSS split by kind (/proc/<pid>/status): anonymous memory (the heaps),
    file pages mapped (libraries), shared memory (SQLite's WAL index)."""
    parts = {"anon": 0, "file": 0, "shmem": 0}
    names = {"RssAnon": "anon", "RssFile": "file", "RssShmem": "shmem"}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k = line.split(":")[0]
                if k in names:
                    parts[names[k]] = int(line.split()[1])
    except OSError:
        pass
    return parts


def mappings_kb(pid):
    """Rss of each mapping of the process, keyed by its name and start address
    (/proc/<pid>/smaps): what grew, when RSS grows."""
    out = {}
    try:
        with open("/proc/%d/smaps" % pid) as f:
            key = None
            for line in f:
                first = line.split()[0] if line.strip() else ""
                if "-" in first and not first.endswith(":"):
                    fields = line.split()
                    name = fields[5] if len(fields) > 5 else "[anon]"
                    key = "%s %s" % (name, first.split("-")[0])
                elif first == "Rss:" and key:
                    out[key] = int(line.split()[1])
    except OSError:
        pass
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--rate", type=int, default=20000, help="signals per second")
    ap.add_argument("--instruments", type=int, default=20)
    ap.add_argument("--trees", type=int, default=50, help="trees per retrain")
    ap.add_argument("--max-train-bars", type=int, default=100000,
                    help="supervisor.max_train_bars: newest stored bars a retrain uses")
    a = ap.parse_args()
    seconds = a.minutes * 60
    tmp = tempfile.TemporaryDirectory(prefix="ml4t-soak-")
    node = None
    try:
        model = nodeutil.trained_model(tmp.name)
        out2 = os.path.join(tmp.name, "model2")
        subprocess.run([os.path.join(BIN, "ml4t-train"), "--bars", strategy.DATA, "--out", out2,
                        "--quiet", "--trees", "20"], check=True, timeout=300)
        # retraining only when asked (every minute), not by the monitor's triggers
        node = nodeutil.Node(tmp.name, "--train.trees", str(a.trees), "--train.threads", "1",
                             "--stats-interval", "0", "--retrain-min-samples", "1000000000000",
                             "--retrain-accuracy-drop-threshold", "0.5",
                             "--supervisor.max_train_bars", str(a.max_train_bars), name="soak")
        print("soak: ml4t-node pid %d, %s signals/s for %.1f min, %d instruments; retrain every "
              "minute, swap/rollback every minute (at +30 s)" % (node.proc.pid, a.rate, a.minutes,
                                                                 a.instruments))
        max_seq = int(a.rate * seconds * 1.05) + 10
        stop, done = mp.Event(), mp.Event()
        ready, out_q = mp.Queue(), mp.Queue()
        sent_count = mp.Value("q", 0)
        rx = mp.Process(target=receiver, args=(node.enr_port, ready, stop, out_q, max_seq))
        rx.start()
        ready.get(timeout=10)
        tx = mp.Process(target=sender, args=(node.sig_port, a.rate, seconds, a.instruments,
                                             sent_count, done))
        tx.start()
        t0 = time.time()
        rows, swaps, trains, next_min = [], 0, 0, 1
        last_sent, last_t = 0, t0
        rss_now = []  # VmRSS samples of the current minute (5 a second)
        peak_parts = {}  # the split of the minute's highest sample
        while not done.is_set():
            time.sleep(0.2)
            rss_now.append(rss_kb(node.proc.pid) / 1024)
            if rss_now[-1] >= max(rss_now):
                peak_parts = rss_parts_kb(node.proc.pid)
            el = time.time() - t0
            if el >= next_min * 60 - 30 and trains < next_min and el < seconds:
                # half way through each minute: a retrain (answered at once, runs aside)
                rc, _, _ = node.ctl("train")
                trains += 1
            if el < next_min * 60:
                continue
            # each minute's end: a swap of a model file (odd minutes) or a rollback (even)
            if next_min % 2:
                rc, doc, _ = node.ctl("swap", os.path.join(out2, "model.ubj"), timeout=60000)
            else:
                rc, doc, _ = node.ctl("rollback", timeout=60000)
            swaps += rc == 0
            st = node.status()
            now_sent = sent_count.value
            rate = (now_sent - last_sent) / max(1e-9, time.time() - last_t)
            last_sent, last_t = now_sent, time.time()
            row = {"minute": next_min, "rss_mb": max(rss_now), "rss_min_mb": min(rss_now),
                   "ctl": "swap" if next_min % 2 else "rollback", "parts": peak_parts,
                   "maps": mappings_kb(node.proc.pid)}
            rss_now = []
            rows.append(row)
            row["cache_mb"] = st.get("store_cache_bytes", 0) / 1048576.0
            mem = st.get("memory", {})
            row["heap_mb"] = (mem.get("heap_in_use_bytes", 0) / 1048576.0,
                              mem.get("heap_free_bytes", 0) / 1048576.0)
            print("soak: min %2d  sent %10d (%6.0f/s)  enriched %10d  rss max %6.1f MB  SQLite "
                  "cache %4.1f MB  slowest commit %5.0f ms  node p99 %6.1f us  drops %d  %s %s  "
                  "retrains %d (%s)  live %s"
                  % (next_min, now_sent, rate, st["enriched"], row["rss_mb"], row["cache_mb"],
                     st.get("store_slowest_tx_ms", 0), st["latency_ns"]["p99"] / 1000.0,
                     st["dropped"]["total"], row["ctl"],
                     "ok" if rc == 0 else "rc=%d" % rc, st["supervisor"]["runs"],
                     st["supervisor"]["last_result"][:32], st["model"]["version"]), flush=True)
            next_min += 1
        tx.join()
        total = sent_count.value
        # drain: every answer still in flight arrives
        nodeutil.wait_for(lambda: node.status()["enriched"] >= total + a.instruments, 120, 0.5)
        time.sleep(2)
        st = node.status()
        stop.set()
        res = out_q.get(timeout=120)
        rx.join()
        lost = total - res["uniq"]
        print("soak: minute  answered  e2e p50 us  e2e p99 us  node p99 us (10 % sample)")
        p99s = []
        for mnt in sorted(res["per_min"]):
            e2e, nl, cnt = res["per_min"][mnt]
            p99s.append(pct(e2e, 99))
            print("soak: %6d  %8d  %10.0f  %10.0f  %11.1f" % (mnt + 1, cnt, pct(e2e, 50),
                                                            pct(e2e, 99), pct(nl, 99)))
        mins = rows
        # warm-up: until a retrain has run on a full training window (the busiest
        # instrument has max_train_bars stored); retraining memory grows with the
        # window until then
        per_min = a.rate * 60.0 / a.instruments
        warm_min = min(len(mins), max(1, int(-(-a.max_train_bars // per_min)) + 1))
        # a minute's peak: the retrain on a full window, the swap, the traffic
        warm = mins[warm_min - 1]["rss_mb"] if mins else 0
        end_rss = max(r["rss_mb"] for r in mins[warm_min:]) if len(mins) > warm_min else warm
        growth = (end_rss - warm) / warm * 100 if warm else float("nan")
        print("soak: VmRSS (MB) per minute, min/max: %s" % "  ".join(
            "%.1f/%.1f" % (r["rss_min_mb"], r["rss_mb"]) for r in mins))
        print("soak: at each minute's peak, anon/file/shmem (MB): %s" % "  ".join(
            "%.1f/%.1f/%.1f" % (r["parts"].get("anon", 0) / 1024, r["parts"].get("file", 0) / 1024,
                                r["parts"].get("shmem", 0) / 1024) for r in mins))
        print("soak: SQLite page caches (MB) per minute: %s" % "  ".join(
            "%.1f" % r["cache_mb"] for r in mins))
        print("soak: malloc heap in use/held free (MB) at each minute's end: %s" % "  ".join(
            "%.1f/%.1f" % r["heap_mb"] for r in mins))
        if len(mins) > warm_min:
            a0, a1 = mins[warm_min - 1]["maps"], mins[-1]["maps"]
            grew = sorted(((a1.get(k, 0) - a0.get(k, 0), k) for k in set(a0) | set(a1)),
                          reverse=True)
            print("soak: mappings that grew most from minute %d to minute %d (kB): %s"
                  % (warm_min, mins[-1]["minute"],
                     ", ".join("%s +%d" % (k, d) for d, k in grew[:6] if d > 0) or "none"))
        print("soak: sent %d, answered %d, lost %d, duplicates %d, error events %d" %
              (total, res["uniq"], lost, res["dups"], res["errors"]))
        print("soak: node STATUS: enriched %d, errors %d, dropped %s, store queue %d" %
              (st["enriched"], st["errors_total"], json.dumps(st["dropped"]), st["store_queue"]))
        slow = [ln.strip() for ln in open(node.logpath, errors="replace")
                if "ml4t_store:" in ln]
        print("soak: store writer log: %s" % ("; ".join(slow[:12]) or "nothing"))
        print("soak: retrains run %d (last: %s), swaps/rollbacks ok %d of %d" %
              (st["supervisor"]["runs"], st["supervisor"]["last_result"], swaps, len(mins)))
        print("soak: VmRSS peak %.1f MB in minute %d (warm-up: a retrain on a full %d-bar "
              "window), highest peak after it %.1f MB: growth %.1f %%"
              % (warm, warm_min, a.max_train_bars, end_rss, growth))
        # a history record the store's queue refused is lost too
        ok = lost == 0 and res["dups"] == 0 and st["dropped"]["total"] == 0 and growth <= 5.0
        print("soak: %s" % ("PASS" if ok else "FAIL"))
        c = node.stop()
        print("soak: node stopped with exit %d" % c)
        return 0 if ok else 1
    finally:
        nodeutil.cleanup()
        tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
