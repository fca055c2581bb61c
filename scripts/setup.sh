#!/usr/bin/env bash
# Idempotent setup: install Debian packages that are missing, then configure and
# build ml4t into $ML4T_BUILD_DIR (default: build/). Executables land in build/bin/.
# Called by both README commands (scripts/demo.sh and scripts/test.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake pkg-config clang clang-format libclang-rt-14-dev git
  libzmq3-dev libczmq-dev libmsgpack-dev libxgboost-dev libhiredis-dev redis-server
  libsqlite3-dev libcjson-dev zlib1g-dev
  python3 python3-msgpack python3-zmq python3-redis python3-xgboost python3-numpy
  valgrind
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

BUILD_DIR="${ML4T_BUILD_DIR:-build}"
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="${ML4T_BUILD_TYPE:-RelWithDebInfo}" ${ML4T_CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
