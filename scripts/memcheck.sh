#!/usr/bin/env bash
# Valgrind memcheck over the unit tests (ctest label "unit") of a built tree.
#
#   scripts/memcheck.sh [BUILD_DIR] [NAME_REGEX]     default: build, every unit test
#
# Each test binary runs under
#   valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
#            --suppressions=tests/valgrind.supp
# so any invalid read/write, use of uninitialised memory, bad free or definite
# leak fails the stage. Logs go to BUILD_DIR/memcheck/<test>.log.
#
# Valgrind runs code 20-50 times slower (far more for floating-point kernels).
# Cases listed in tests/valgrind.skip ("test_name case_name  # why") are left
# out of this stage only, through ML4T_TEST_SKIP; they run in the plain and
# sanitizer stages. ML4T_MEMCHECK_JOBS sets the parallelism (default nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
FILTER="${2:-.}"
JOBS="${ML4T_MEMCHECK_JOBS:-$(nproc)}"
SRC="$(pwd)"
OUT="$BUILD/memcheck"
mkdir -p "$OUT"
rm -f "$OUT"/*.log "$OUT"/*.failed

command -v valgrind >/dev/null || { echo "memcheck: valgrind is not installed" >&2; exit 1; }
tests=$(cd "$BUILD" && ctest -N -L unit | sed -n 's/^ *Test *#[0-9]*: *//p' | grep -E "$FILTER" || true)
[ -n "$tests" ] || { echo "memcheck: no unit test matches '$FILTER' in $BUILD" >&2; exit 1; }

run_one() {
  local t="$1" skip start rc
  skip=$(sed -e 's/#.*//' tests/valgrind.skip | awk -v t="$t" '$1 == t { printf "%s ", $2 }')
  start=$(date +%s)
  set +e
  ML4T_SOURCE_DIR="$SRC" ML4T_BIN="$SRC/$BUILD/bin" ML4T_TEST_SKIP="$skip" \
    valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite --num-callers=40 --track-origins=yes \
    --suppressions="$SRC/tests/valgrind.supp" --log-file="$OUT/$t.vg.log" \
    "$BUILD/bin/$t" >"$OUT/$t.log" 2>&1
  rc=$?
  set -e
  printf '%-28s %s  %4ss%s\n' "$t" "$([ $rc -eq 0 ] && echo clean || echo "FAILED (exit $rc)")" \
    "$(($(date +%s) - start))" "${skip:+  (left out: $skip)}"
  [ $rc -eq 0 ] || touch "$OUT/$t.failed"
}
export -f run_one
export BUILD SRC OUT

echo "memcheck: $(echo "$tests" | wc -l) unit tests, $JOBS at a time"
echo "$tests" | xargs -P "$JOBS" -I{} bash -c 'run_one {}'

failed=$(ls "$OUT"/*.failed 2>/dev/null | sed 's|.*/||; s|\.failed$||' || true)
if [ -n "$failed" ]; then
  for t in $failed; do
    echo "---- $t (test output, then valgrind's report)"
    tail -n 20 "$OUT/$t.log"
    grep -v '^==[0-9]*== *$' "$OUT/$t.vg.log" | tail -n 60
  done
  echo "memcheck: FAILED: $failed"
  exit 1
fi
echo "memcheck: all clean"
