#!/usr/bin/env bash
# The test command: set up, build, and run the whole suite three ways:
#   1. plain build (build/): every unit, python and integration test;
#   2. AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/): every test, the
#      Python end-to-end ones driving the ASan-built node and tools;
#   3. ThreadSanitizer (build-tsan/): the threaded tests (ctest label "threaded");
#   4. valgrind memcheck over the plain build's unit tests (scripts/memcheck.sh);
# then each libFuzzer harness for a bounded time (build-fuzz/, clang).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="$(nproc)"

echo "== setup and plain build"
scripts/setup.sh

echo "== formatting (the committed .clang-format)"
git ls-files '*.c' '*.h' | xargs clang-format --dry-run --Werror
(cd build && ctest --output-on-failure -j "$JOBS")

echo "== AddressSanitizer + UndefinedBehaviorSanitizer"
ML4T_BUILD_DIR=build-asan ML4T_BUILD_TYPE=Debug ML4T_CMAKE_ARGS="-DML4T_SANITIZE=ON" scripts/setup.sh
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure -j "$JOBS" -LE "slow")

echo "== ThreadSanitizer (threaded tests)"
# XGBoost parallelizes inside libgomp, which is not instrumented: TSan cannot see
# its barriers and reports races inside XGBoost's own loops. One OpenMP thread
# keeps XGBoost out of it; every thread of ours is still checked.
ML4T_BUILD_DIR=build-tsan ML4T_BUILD_TYPE=Debug ML4T_CMAKE_ARGS="-DML4T_TSAN=ON" scripts/setup.sh
(cd build-tsan && OMP_NUM_THREADS=1 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  ctest --output-on-failure -j "$JOBS" -L threaded)

echo "== valgrind memcheck (unit tests of build/; see docs/reliability.md)"
scripts/memcheck.sh build

if ls tests/fuzz/fuzz_*.c >/dev/null 2>&1; then
  echo "== fuzzing (bounded)"
  ML4T_BUILD_DIR=build-fuzz CC=clang ML4T_BUILD_TYPE=Debug \
    ML4T_CMAKE_ARGS="-DML4T_FUZZ=ON -DML4T_SANITIZE=ON -DML4T_BUILD_TESTS=ON" scripts/setup.sh
  scripts/fuzz.sh build-fuzz "${ML4T_FUZZ_SECONDS:-60}"
fi
echo "== all test stages passed"
