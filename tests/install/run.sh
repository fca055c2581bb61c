#!/usr/bin/env bash
# Install ml4t from BUILD_DIR into a temporary prefix, then build and run a user's
# program against it twice: with pkg-config, and with CMake's find_package(ml4t).
set -euo pipefail
build_dir="$1"
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build_dir" --prefix "$tmp/prefix" >/dev/null
libdir="$(find "$tmp/prefix" -name ml4t.pc -printf '%h\n' | head -n1)"
export PKG_CONFIG_PATH="$libdir"
export LD_LIBRARY_PATH="$(dirname "$libdir")"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror "$here/consumer.c" -o "$tmp/consumer-pc" $(pkg-config --cflags --libs ml4t)
"$tmp/consumer-pc"
cmake -S "$here" -B "$tmp/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/build" >/dev/null
"$tmp/build/consumer"
echo "install: pkg-config and find_package(ml4t) both build and run a consumer"
