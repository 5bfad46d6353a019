#!/usr/bin/env bash
# Runs every test of the project on a fresh machine: set-up (scripts/setup.sh), build, unit tests of
# every Go module, the C, Rust and Python checks of the plugin ABI, then the integration suites
# against real servers (PostgreSQL started here, iggy-devserver started by the tests, the official
# Python Iggy client), and a smoke run of the benchmark harness.
#
#   scripts/test.sh           everything (what CI runs through `make test`)
#   scripts/test.sh --unit    unit tests only (no PostgreSQL, no interop)
#
# Every step runs even if an earlier one failed; the summary at the end lists the failures and the
# exit status is non-zero if there were any.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
MODE=${1:-all}

export IGGY_REQUIRE_TOOLS=1 # tests that need protoc/flatc/systemd-analyze/cargo fail instead of skipping
export GOFLAGS=${GOFLAGS:--buildvcs=false}

failed=()
step() {
  local name=$1
  shift
  printf '\n\033[1;34m==> %s\033[0m\n' "$name"
  local start=$SECONDS
  if "$@"; then
    printf '\033[1;32m<== %s: ok (%ds)\033[0m\n' "$name" $((SECONDS - start))
  else
    printf '\033[1;31m<== %s: FAILED (%ds)\033[0m\n' "$name" $((SECONDS - start))
    failed+=("$name")
  fi
}

# Go modules of the workspace (root, abi, sdk, every connector and test plugin), as package
# patterns for ONE go command each (workspace mode): one `go vet` over every module instead of one
# per module (12 invocations took 28 s warm, one takes 2 s).
mapfile -t MODULES < <(go list -m -f '{{.Dir}}' | sed "s|^$ROOT|.|")
PATTERNS=()
for m in "${MODULES[@]}"; do PATTERNS+=("$m/..."); done
# The integration steps below run every test of these packages (the integration tag adds tests, it
# removes none), so in full mode the unit step leaves them out instead of running them twice.
INTEGRATION_PATTERNS=(./runtime/... ./test/...)
PG_PATTERNS=(./connectors/sinks/postgres/... ./connectors/sources/postgres/...)

go_vet_all() { go vet "${PATTERNS[@]}"; }
gofmt_check() {
  local out
  out=$(gofmt -l $(git ls-files '*.go'))
  [ -z "$out" ] || { echo "not gofmt'ed:"; echo "$out"; return 1; }
}
go_unit_all() {
  local pkgs
  if [ "$MODE" = "--unit" ]; then
    go test -count=1 "${PATTERNS[@]}"
    return
  fi
  pkgs=$(comm -23 <(go list "${PATTERNS[@]}" | sort) \
    <(go list -tags integration "${INTEGRATION_PATTERNS[@]}" "${PG_PATTERNS[@]}" | sort)) || return
  # shellcheck disable=SC2086
  go test -count=1 $pkgs
}

# Rust: the SDK needs Rust 1.85+ (Debian's cargo is older and rustup is not a package registry), so
# a machine without cargo skips the Rust parts with a message instead of failing (the Rust plugin
# is not built and the Go tests that load it skip, see pluginbuild.PrebuiltRust).
skipped=()
rust_tests() {
  if ! command -v cargo >/dev/null; then
    printf '\033[1;33mSKIPPED: cargo not found on PATH: the Rust SDK tests and the Rust example plugin are not run (install Rust 1.85+ with rustup to run them)\033[0m\n'
    skipped+=("Rust SDK tests and the Rust plugin checks (no cargo)")
    return 0
  fi
  (cd sdk/rust && cargo test --quiet)
}

# --- extension point for the suites of connectors that need their own servers --------------------
# Every scripts/test.d/*.sh is sourced (full mode only) and declares, with plain function calls:
#   service NAME 'START' 'STOP'   a server its suites need. START (a shell command, run from the
#                                 repository root) runs in the background right after set-up, so slow
#                                 servers download and start while the build and unit tests run; it
#                                 installs what it needs, exits 0 once the server answers, and prints
#                                 `export VAR=...` lines (the suites' environment) on stdout; its
#                                 stderr goes to build/logs/service-NAME.log. STOP runs at exit.
#   suite 'TITLE' NEEDS 'CMD'     an integration step run after the built-in ones; NEEDS is a service
#                                 name (or -) that is waited for first; the step fails if it did not start.
declare -A SVC_START SVC_STOP SVC_PID SVC_RC
SERVICES=() SUITES=()
service() { SERVICES+=("$1"); SVC_START[$1]=$2; SVC_STOP[$1]=$3; }
suite() { SUITES+=("$1"$'\x1f'"$2"$'\x1f'"$3"); }
start_services() {
  mkdir -p build/logs build/services
  local n
  for n in "${SERVICES[@]}"; do
    printf '\033[1;34m==> starting service %s in the background\033[0m\n' "$n"
    (eval "${SVC_START[$n]}") >"build/services/$n.env" 2>"build/logs/service-$n.log" &
    SVC_PID[$n]=$!
  done
}
# wait_service NAME: waits for NAME's start command (once) and loads its environment.
wait_service() {
  local n=$1
  [ "$n" = - ] && return 0
  if [ -z "${SVC_RC[$n]:-}" ]; then
    wait "${SVC_PID[$n]}"
    SVC_RC[$n]=$?
    if [ "${SVC_RC[$n]}" -eq 0 ]; then
      # shellcheck disable=SC1090
      source "build/services/$n.env"
    else
      echo "service $n did not start (exit ${SVC_RC[$n]}); last lines of build/logs/service-$n.log:" >&2
      tail -n 40 "build/logs/service-$n.log" >&2
    fi
  fi
  return "${SVC_RC[$n]}"
}
stop_services() {
  local n
  for n in "${SERVICES[@]}"; do
    [ -n "${SVC_PID[$n]:-}" ] || continue
    (eval "${SVC_STOP[$n]}") >>"build/logs/service-$n.log" 2>&1 || true
  done
}
run_suite() { wait_service "$1" && bash -c "$2"; }
if [ "$MODE" != "--unit" ]; then
  for f in scripts/test.d/*.sh; do
    [ -e "$f" ] || continue
    # shellcheck disable=SC1090
    source "$f"
  done
fi

step "set-up" scripts/setup.sh || true
[ ${#failed[@]} -eq 0 ] || { echo "set-up failed; stopping" >&2; exit 1; }
start_services
step "build runtime and devserver" make --no-print-directory build
step "build plugins (Go, C, Rust, test plugins)" scripts/build-plugins.sh --test
# The Go tests copy these instead of linking each plugin again in every test process.
export IGGY_TEST_PLUGIN_DIR=$ROOT/build/plugins
step "gofmt" gofmt_check
step "go vet (every module, one invocation)" go_vet_all
if [ "$MODE" = "--unit" ]; then
  step "Go unit tests (every module)" go_unit_all
else
  step "Go unit tests (modules and packages the integration steps do not run)" go_unit_all
fi
step "C SDK tests (golden vectors, example sink)" make --no-print-directory -C sdk/c test
step "Rust SDK tests (golden vectors, example source)" rust_tests
step "Python cbor2 check of the golden vectors" build/venv/bin/python abi/testdata/check_vectors.py

if [ "$MODE" != "--unit" ]; then
  PG_STARTED=
  stop_pg() { [ -n "$PG_STARTED" ] && scripts/postgres.sh stop >/dev/null 2>&1; }
  trap 'stop_services; stop_pg' EXIT
  # Stop the cluster at the end only if this run started it (a developer's running one is kept).
  scripts/postgres.sh status >/dev/null 2>&1 && PG_WAS_RUNNING=1 || PG_WAS_RUNNING=
  if step "start PostgreSQL (throwaway cluster)" scripts/postgres.sh start; then
    [ -n "$PG_WAS_RUNNING" ] || PG_STARTED=1
    eval "$(scripts/postgres.sh env)"
  fi
  step "packaging: the Dockerfile's build stage as plain commands, the image's ENV and HEALTHCHECK, hadolint" scripts/check-dockerfile.sh
  step "Iggy interop with the official Python client" test/interop/run.sh
  step "integration: runtime packages and end-to-end suites" go test -count=1 -p 1 -tags integration -timeout 20m "${INTEGRATION_PATTERNS[@]}"
  step "integration: PostgreSQL sink and source" go test -count=1 -p 1 -tags integration "${PG_PATTERNS[@]}"
  for entry in "${SUITES[@]}"; do
    IFS=$'\x1f' read -r title needs cmd <<<"$entry"
    step "$title" run_suite "$needs" "$cmd"
  done
  if [ -x scripts/bench.sh ]; then
    step "benchmark harness smoke run" scripts/bench.sh --smoke
  fi
fi

echo
if [ ${#skipped[@]} -gt 0 ]; then
  printf '\033[1;33mskipped:\033[0m\n'
  printf '  - %s\n' "${skipped[@]}"
fi
if [ ${#failed[@]} -gt 0 ]; then
  printf '\033[1;31mFAILED steps:\033[0m\n'
  printf '  - %s\n' "${failed[@]}"
  exit 1
fi
printf '\033[1;32mall tests passed\033[0m (%ds)\n' "$SECONDS"
