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
#   scripts/bench.sh --real   the full run against the real Apache Iggy server, with the original
#                              runtime beside ours when built: IGGY_SOURCE_DIR is an apache/iggy checkout
#                              with target/release/iggy-server (scripts/real-iggy.sh builds it). Starts the
#                              server on a free port pinned to CPU 0 (throwaway data directory, stopped at
#                              the end), sets IGGY_BENCH_SERVER, and ORIGINAL_RUNTIME when
#                              target/release/iggy-connectors and its plugins are there (in the checkout:
#                              cargo build --release -p iggy-connectors -p iggy_connector_random_source
#                              -p iggy_connector_stdout_sink -p iggy_connector_postgres_sink). Combine
#                              with --smoke for a quick check.
#
# Environment: BENCH_RUNS (interleaved runs per side), BENCH_ONLY (e.g. B1,B2 or O1,O2,O3), BENCH_SWEEP
# (batch sizes of B1 and B2, e.g. 100,1000), SOAK_DURATION (default 10m), SOAK_OUT (the soak's directory,
# default bench/out/full; another one leaves bench/RESULTS.md alone, for A/B soaks side by side).
# The soak's runtime inherits the environment: allocator settings such as MALLOC_ARENA_MAX or GOGC
# are recorded in soak.json and shown in the report.
# Comparison mode (full and smoke runs): IGGY_BENCH_SERVER=host:port measures against that external
# Iggy server instead of an iggy-devserver (IGGY_BENCH_USERNAME/IGGY_BENCH_PASSWORD, default iggy/iggy;
# the harness works in a stream of its own and deletes it); ORIGINAL_RUNTIME=/path/to/iggy-connectors
# (the original Rust runtime; ORIGINAL_PLUGINS_DIR with libiggy_connector_random_source.so,
# _stdout_sink.so and _postgres_sink.so, default the binary's directory) adds O1-O3: the same
# connectors run with it interleaved, and the report gets "vs the original runtime".
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
MODE=full
REAL=
for arg in "$@"; do
  case "$arg" in
    --smoke) MODE=smoke ;;
    --soak) MODE=soak ;;
    --real) REAL=1 ;;
    -h|--help) sed -n '2,40p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument $arg (--smoke, --soak, --real)" >&2; exit 2 ;;
  esac
done
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
REAL_PID=
REAL_DATA=
cleanup() {
  if [ -n "$PG_STARTED" ]; then
    PGPORT=$PG_STARTED scripts/postgres.sh stop >/dev/null 2>&1 || true
  fi
  if [ -n "$REAL_PID" ]; then
    kill "$REAL_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$REAL_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$REAL_PID" 2>/dev/null || true
  fi
  [ -z "$REAL_DATA" ] || rm -rf "$REAL_DATA"
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

# --- the real Iggy server and the original runtime (--real) ---------------------------------------
if [ -n "$REAL" ] && [ "$MODE" != soak ]; then
  SRC=${IGGY_SOURCE_DIR:-}
  [ -n "$SRC" ] || die "--real: set IGGY_SOURCE_DIR to an apache/iggy checkout"
  REL=$(cd "$SRC" && pwd)/target/release
  [ -x "$REL/iggy-server" ] || die "--real: $REL/iggy-server is missing (scripts/real-iggy.sh builds it)"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  REAL_DATA=$(mktemp -d)
  mkdir -p bench/out
  PIN=()
  if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then PIN=(taskset -c 0); fi
  log "starting the real iggy-server on 127.0.0.1:$port ${PIN[*]:+(CPU 0)}, log bench/out/iggy-server.log"
  env IGGY_SYSTEM_PATH="$REAL_DATA" IGGY_TCP_ADDRESS="127.0.0.1:$port" \
    IGGY_ROOT_USERNAME=iggy IGGY_ROOT_PASSWORD=iggy \
    IGGY_HTTP_ENABLED=false IGGY_QUIC_ENABLED=false IGGY_WEBSOCKET_ENABLED=false \
    IGGY_SYSTEM_SHARDING_CPU_ALLOCATION=1 IGGY_SYSTEM_SHARDING_PIN_CORES=false \
    "${PIN[@]}" "$REL/iggy-server" >bench/out/iggy-server.log 2>&1 &
  REAL_PID=$!
  for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$REAL_PID" 2>/dev/null || { tail -20 bench/out/iggy-server.log >&2; die "iggy-server exited"; }
    sleep 0.1
  done
  export IGGY_BENCH_SERVER=127.0.0.1:$port IGGY_BENCH_USERNAME=iggy IGGY_BENCH_PASSWORD=iggy
  if [ -z "${ORIGINAL_RUNTIME:-}" ] && [ -x "$REL/iggy-connectors" ]; then
    export ORIGINAL_RUNTIME=$REL/iggy-connectors
    log "original runtime: $ORIGINAL_RUNTIME"
  fi
fi
[ -z "${IGGY_BENCH_SERVER:-}" ] || log "measuring against the external Iggy server ${IGGY_BENCH_SERVER}"

# --- run ------------------------------------------------------------------------------------------
# chart CSV PNG draws the B1/B2 chart, unless BENCH_ONLY left the sweep out (a header line only).
chart() {
  if [ "$(wc -l <"$1")" -gt 1 ]; then "$PY" bench/chart.py "$1" "$2"; else log "no B1/B2 runs: no chart"; fi
}
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
    chart "$OUT/sweep.csv" bench/throughput.png
    log "report: bench/RESULTS.md, chart: bench/throughput.png (total $((SECONDS - START))s)"
    ;;
  smoke)
    OUT=bench/out/smoke
    rm -rf "$OUT"
    "${BENCH[@]}" run --mode smoke --root . --out "$OUT" --chart throughput.png "${ARGS[@]}"
    chart "$OUT/sweep.csv" "$OUT/throughput.png"
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
