#!/usr/bin/env bash
# The demo: train a meta-model on the bundled real month, start the node on
# ZeroMQ (loopback), replay 5,000 signals over 10 instruments through the C
# strategy, print enriched signals and the latency figures, ask the node for
# its status with ml4t-ctl, and stop it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
BIN=build/bin
PY=/usr/bin/python3
WORK="$(mktemp -d /tmp/ml4t-demo-XXXXXX)"
NODE_PID=""
CONS_PID=""
cleanup() {
  [ -n "$CONS_PID" ] && kill "$CONS_PID" 2>/dev/null || true
  if [ -n "$NODE_PID" ] && kill -0 "$NODE_PID" 2>/dev/null; then kill -9 "$NODE_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SIG_PORT=$(free_port); ENR_PORT=$(free_port); CTL_PORT=$(free_port)

echo
echo "== 1. train the meta-model on a month of real FIL/USDT 1-minute bars (walk-forward)"
"$BIN/ml4t-train" --bars examples/data/FILUSDT-1m-2023-11.csv.gz --out "$WORK/model" | tail -n 25

echo
echo "== 2. start the node on ZeroMQ (loopback) with that model"
OMP_WAIT_POLICY=passive "$BIN/ml4t-node" \
  --signals "@tcp://127.0.0.1:$SIG_PORT" --enriched "@tcp://127.0.0.1:$ENR_PORT" \
  --control "@tcp://127.0.0.1:$CTL_PORT" --zmq.sndhwm 0 \
  --model-path "$WORK/model/model.ubj" --data-dir "$WORK/data" --stats-interval 0 &
NODE_PID=$!
for _ in $(seq 1 100); do
  "$BIN/ml4t-ctl" --control "tcp://127.0.0.1:$CTL_PORT" --timeout 200 status >/dev/null 2>&1 && break
  sleep 0.1
done

echo
echo "== 3. replay 5,000 signals over 10 instruments at 2,500/s (C strategy; each instrument first sends 2,000 bars of history, then only its newest bar) -> node -> Python consumer"
"$PY" examples/python/consumer.py --endpoint "tcp://127.0.0.1:$ENR_PORT" --count 5000 \
  --timeout 15 --show 8 --ready-file "$WORK/ready" &
CONS_PID=$!
for _ in $(seq 1 50); do [ -f "$WORK/ready" ] && break; sleep 0.1; done
"$BIN/ml4t-example-strategy" --endpoint "tcp://127.0.0.1:$SIG_PORT" --signals 5000 \
  --instruments 10 --rate 2500 --bars 1 --history 2000
wait "$CONS_PID" || true
CONS_PID=""

echo
echo "== 4. the node's own view (ml4t-ctl status)"
"$BIN/ml4t-ctl" --control "tcp://127.0.0.1:$CTL_PORT" status | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
lat = s["latency_ns"]
print("  received %d, enriched %d, errors %d, dropped %d, stored %d rows, %d instruments"
      % (s["received"], s["enriched"], s["errors_total"], s["dropped"]["total"], s["stored"],
         s["instruments"]))
print("  latency in the node: p50 %.1f us, p99 %.1f us, p99.9 %.1f us"
      % (lat["p50"] / 1e3, lat["p99"] / 1e3, lat["p999"] / 1e3))
print("  model %s; policy: %s, min confidence %.2f, %d signals held back by it"
      % (s["model"]["version"], "trading allowed" if s["policy"]["allow_new_trades"] else
         "no new trades", s["policy"]["min_confidence"], s["policy_blocked"]))
print("  supervisor: %s" % (s["supervisor"]["last_result"] or "no retrain yet"))'

echo
echo "== 5. stop the node (SIGTERM: finish, flush the history store, exit 0)"
kill -TERM "$NODE_PID"
wait "$NODE_PID"
echo "  node exited with $?"
NODE_PID=""
echo
echo "Done. See docs/node.md to run the node yourself."
