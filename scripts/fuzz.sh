#!/usr/bin/env bash
# Bounded fuzzing: scripts/fuzz.sh BUILD_DIR TOTAL_SECONDS
#
# Runs every libFuzzer harness BUILD_DIR/bin/fuzz_<name> for an equal share of
# TOTAL_SECONDS. Each starts from a temporary copy of its seed corpus
# tests/fuzz/corpus/<name>/ (when present; the codec_* harnesses are also
# seeded with the golden vectors schemas/vectors/*.msgpack) and uses the
# dictionary tests/fuzz/<name>.dict or tests/fuzz/<prefix>.dict (prefix = name
# up to its first '_') when one exists. Nothing is written into the source
# tree: inputs that crash, leak or time out are kept in
# BUILD_DIR/fuzz-findings/<name>/. Prints executions and exec/s per harness;
# exits non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."

usage="usage: scripts/fuzz.sh BUILD_DIR TOTAL_SECONDS"
BUILD_DIR="${1:?$usage}"
TOTAL="${2:?$usage}"
[[ "$TOTAL" =~ ^[0-9]+$ ]] || { echo "$usage" >&2; exit 2; }

harnesses=()
for bin in "$BUILD_DIR"/bin/fuzz_*; do
  [ -f "$bin" ] && [ -x "$bin" ] && harnesses+=("$bin")
done
if [ ${#harnesses[@]} -eq 0 ]; then
  echo "fuzz: no harnesses in $BUILD_DIR/bin (configure with CC=clang -DML4T_FUZZ=ON)" >&2
  exit 1
fi
share=$(( TOTAL / ${#harnesses[@]} ))
[ "$share" -ge 1 ] || share=1

work="$(mktemp -d "${TMPDIR:-/tmp}/ml4t-fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT
status=0
total_execs=0
echo "fuzz: ${#harnesses[@]} harnesses, ${share}s each"
for bin in "${harnesses[@]}"; do
  name="$(basename "$bin")"
  name="${name#fuzz_}"
  corpus="$work/$name/corpus"
  artifacts="$work/$name/artifacts"
  mkdir -p "$corpus" "$artifacts"
  if [ -d "tests/fuzz/corpus/$name" ]; then
    cp -R "tests/fuzz/corpus/$name/." "$corpus/"
  fi
  case "$name" in
    codec_*) cp schemas/vectors/*.msgpack "$corpus/" 2>/dev/null || true ;;
  esac
  dict=()
  for d in "tests/fuzz/$name.dict" "tests/fuzz/${name%%_*}.dict"; do
    if [ -f "$d" ]; then dict=("-dict=$d"); break; fi
  done
  log="$work/$name/log"
  set +e
  "$bin" -max_total_time="$share" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "${dict[@]}" "$corpus" >"$log" 2>&1
  rc=$?
  set -e
  execs="$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)"
  execs="${execs:-0}"
  rate="${rate:-0}"
  total_execs=$(( total_execs + execs ))
  findings="$(find "$artifacts" -type f | wc -l)"
  verdict="ok"
  if [ "$rc" -ne 0 ] || [ "$findings" -gt 0 ]; then
    verdict="FINDING (exit $rc)"
    status=1
    mkdir -p "$BUILD_DIR/fuzz-findings/$name"
    cp "$artifacts"/* "$BUILD_DIR/fuzz-findings/$name/" 2>/dev/null || true
    cp "$log" "$BUILD_DIR/fuzz-findings/$name/log"
    echo "---- $name: last lines of the libFuzzer log"
    tail -n 40 "$log"
    echo "---- inputs kept in $BUILD_DIR/fuzz-findings/$name/"
  fi
  printf 'fuzz %-20s %4ss  executions %12s  exec/s %9s  %s\n' "$name" "$share" "$execs" "$rate" "$verdict"
done
echo "fuzz: $total_execs executions in total"
exit $status
