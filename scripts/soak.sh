#!/usr/bin/env bash
# Soak run of ml4t-node (not a CI stage): build, then tests/soak/soak.py.
#   scripts/soak.sh [--minutes 10] [--rate 20000] [--instruments 20] [--trees 50]
# Run on a quiet machine: it measures throughput, latency and memory.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${ML4T_BUILD_DIR:-build}"
ML4T_BUILD_DIR="$BUILD_DIR" scripts/setup.sh >/dev/null
ML4T_SOURCE_DIR="$(pwd)" ML4T_BIN="$(pwd)/$BUILD_DIR/bin" exec /usr/bin/python3 tests/soak/soak.py "$@"
