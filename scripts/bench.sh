#!/usr/bin/env bash
# Benchmarks of the connectors runtime (harness: bench/, scenarios B1-B6 of issue 7).
#
#   scripts/bench.sh           full run (`make bench`, about 6 minutes): bench/RESULTS.md and
#                              bench/throughput.png; raw results, logs and profiles in bench/out/full/
#   scripts/bench.sh --smoke   every scenario once with tiny windows (`make bench-smoke`, CI): proves
#                              the harness works; report and chart in bench/out/smoke/. Fails when a
#                              scenario cannot run, never because of the numbers.
#   scripts/bench.sh --soak    the memory soak (`make soak`, 10 minutes; `make soak SOAK=1h`): RSS
#                              every 5 s and memory maps per kind every minute in
#                              bench/out/full/soak.json, its report SOAK.md and chart soak.png beside
#                              it; then bench/RESULTS.md (with bench/soak.png) is rendered again with
#                              it if a full run exists
#
# Builds (incrementally) the runtime and iggy-devserver with CGO_ENABLED=0, the plugins the scenarios
# load (random source, discard sink, PostgreSQL sink, stdout sink) and the harness into build/. B3
# needs PostgreSQL: IGGY_TEST_PG_URL when set, else a throwaway cluster (scripts/postgres.sh) on a
# free port, stopped at the end. Runs scripts/setup.sh first when gcc or the Python venv with
# matplotlib (for the chart) is missing.
#
# Environment: BENCH_RUNS (interleaved runs per side), BENCH_ONLY (e.g. B1,B2), BENCH_SWEEP (batch
# sizes of B1 and B2, e.g. 100,1000), SOAK_DURATION (default 10m), SOAK_OUT (the soak's directory,
# default bench/out/full; another one leaves bench/RESULTS.md alone, for A/B soaks side by side).
# The soak's runtime inherits the environment: allocator settings such as MALLOC_ARENA_MAX or GOGC
# are recorded in soak.json and shown in the report.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
MODE=full
case "${1:-}" in
  "") ;;
  --smoke) MODE=smoke ;;
  --soak) MODE=soak ;;
  -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
  *) echo "bench.sh: unknown argument $1 (--smoke, --soak)" >&2; exit 2 ;;
esac
log() { printf '\033[1;34m[bench]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[bench]\033[0m %s\n' "$*" >&2; exit 1; }
export GOFLAGS=${GOFLAGS:--buildvcs=false}
PY=build/venv/bin/python

# --- toolchain ------------------------------------------------------------------------------------
command -v go >/dev/null || die "Go 1.26+ is required"
if ! command -v gcc >/dev/null || ! "$PY" -c 'import matplotlib' 2>/dev/null; then
  log "gcc or the Python venv with matplotlib is missing: running scripts/setup.sh"
  scripts/setup.sh
fi

# --- build ----------------------------------------------------------------------------------------
START=$SECONDS
log "building the runtime, iggy-devserver, the plugins and the harness"
mkdir -p build/bin build/plugins
CGO_ENABLED=0 go build -o build/bin/iggy-connectors ./runtime/cmd/iggy-connectors
CGO_ENABLED=0 go build -o build/bin/iggy-devserver ./test/cmd/iggy-devserver
CGO_ENABLED=0 go build -o build/bin/iggy-bench ./bench/cmd/iggy-bench
for p in connectors/sources/random:random_source connectors/sinks/stdout:stdout_sink \
  connectors/sinks/postgres:postgres_sink test/plugins/discard:discard_sink; do
  (cd "${p%%:*}" && CGO_ENABLED=1 go build -buildmode=c-shared -o "$ROOT/build/plugins/libiggy_connector_${p##*:}.so" .)
  rm -f "build/plugins/libiggy_connector_${p##*:}.h"
done
log "built in $((SECONDS - START))s"

# --- PostgreSQL (B3) ------------------------------------------------------------------------------
PG_STARTED=
cleanup() {
  if [ -n "$PG_STARTED" ]; then
    PGPORT=$PG_STARTED scripts/postgres.sh stop >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
if [ "$MODE" != soak ] && [ -z "${IGGY_TEST_PG_URL:-}" ]; then
  port=54340
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  log "starting a throwaway PostgreSQL on 127.0.0.1:$port for B3"
  PGPORT=$port scripts/postgres.sh start >&2
  PG_STARTED=$port
  eval "$(PGPORT=$port scripts/postgres.sh env)"
fi
export IGGY_TEST_PG_URL=${IGGY_TEST_PG_URL:-}

# --- run ------------------------------------------------------------------------------------------
# The harness shares the server's core: the last core is left to the measured process (the harness
# pins its children itself).
BENCH=(build/bin/iggy-bench)
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then BENCH=(taskset -c 0 build/bin/iggy-bench); fi
ARGS=()
[ -n "${BENCH_RUNS:-}" ] && ARGS+=(--runs "$BENCH_RUNS")
[ -n "${BENCH_ONLY:-}" ] && ARGS+=(--only "$BENCH_ONLY")
[ -n "${BENCH_SWEEP:-}" ] && ARGS+=(--sweep "$BENCH_SWEEP")
case "$MODE" in
  full)
    OUT=bench/out/full
    "${BENCH[@]}" run --mode full --root . --out "$OUT" --report bench/RESULTS.md --chart throughput.png "${ARGS[@]}"
    "$PY" bench/chart.py "$OUT/sweep.csv" bench/throughput.png
    log "report: bench/RESULTS.md, chart: bench/throughput.png (total $((SECONDS - START))s)"
    ;;
  smoke)
    OUT=bench/out/smoke
    rm -rf "$OUT"
    "${BENCH[@]}" run --mode smoke --root . --out "$OUT" --chart throughput.png "${ARGS[@]}"
    "$PY" bench/chart.py "$OUT/sweep.csv" "$OUT/throughput.png"
    log "smoke run passed: $OUT/RESULTS.md, $OUT/throughput.png (total $((SECONDS - START))s)"
    ;;
  soak)
    OUT=${SOAK_OUT:-bench/out/full}
    "${BENCH[@]}" soak --root . --out "$OUT" --duration "${SOAK_DURATION:-10m}"
    "$PY" bench/soakchart.py "$OUT/soak.json" "$OUT/soak.png"
    log "soak: $OUT/soak.json, report $OUT/SOAK.md, chart $OUT/soak.png"
    if [ "$OUT" = bench/out/full ] && [ -f "$OUT/results.json" ]; then
      cp "$OUT/soak.png" bench/soak.png
      build/bin/iggy-bench report --root . --out "$OUT" --report bench/RESULTS.md --chart throughput.png
      log "bench/RESULTS.md rendered again with the soak (chart bench/soak.png)"
    else
      log "bench/RESULTS.md left alone (no full run in bench/out/full, or SOAK_OUT given)"
    fi
    log "total $((SECONDS - START))s"
    ;;
esac
