#!/usr/bin/env bash
# Checks the Dockerfile without a Docker engine (part of `make test`):
#   1. runs the build stage's RUN lines (the stage `FROM ... AS build`) as plain commands from the
#      repository root (the stage's WORKDIR holds `COPY . .`), with the stage's output directory
#      /dist replaced by a temporary directory — so what the image contains is built exactly as the
#      image builds it (scripts/build-dist.sh);
#   2. checks that result: the runtime binary runs, every plugin module of connectors/ and the C and
#      Rust examples have a library (the Rust one only when cargo is on PATH), the runtime stage
#      copies that directory;
#   3. runs it as the image would: the runtime stage's ENV (paths under the temporary root, the HTTP
#      API on a free local port, no Iggy), the demo's connector files where docker-compose.yml mounts
#      them: `validate` must pass (plugins found in /usr/local/lib/iggy-connectors by name), and the
#      HEALTHCHECK command must succeed against the running runtime and fail once it stopped;
#   4. lints the Dockerfile with hadolint (installed into build/venv by scripts/setup.sh).
# Not checked here: the base images (golang, rust, debian, apache/iggy) and `docker build` itself.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
log() { printf '\033[1;34m[dockerfile]\033[0m %s\n' "$*"; }
fail() { printf '\033[1;31m[dockerfile] FAILED:\033[0m %s\n' "$*" >&2; exit 1; }

TMP=$(mktemp -d)
RUNTIME_PID=
cleanup() {
  [ -z "$RUNTIME_PID" ] || kill "$RUNTIME_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
DIST=$TMP/dist

# Instructions of the Dockerfile, one per line (continuations joined), comments dropped.
instructions() {
  sed -e '/^[[:space:]]*#/d' Dockerfile | sed -e ':a' -e '/\\$/N; s/\\\n[[:space:]]*/ /; ta' | sed '/^[[:space:]]*$/d'
}
# stage NAME-REGEX: the instructions of the stage whose FROM line matches.
stage() {
  instructions | awk -v re="$1" 'toupper($1) == "FROM" { on = ($0 ~ re) } on'
}

# --- 1. the build stage's RUN lines ---------------------------------------------------------------
mapfile -t RUNS < <(stage '[Aa][Ss] build$' | sed -n 's/^RUN[[:space:]]\{1,\}//p')
[ ${#RUNS[@]} -gt 0 ] || fail "no RUN line in the Dockerfile's build stage (FROM ... AS build)"
for r in "${RUNS[@]}"; do
  cmd=${r//\/dist/$DIST}
  log "RUN $r"
  bash -euo pipefail -c "$cmd" || fail "the build stage's RUN line failed: $r"
done

# --- 2. what was built ------------------------------------------------------------------------------
BIN=$DIST/usr/local/bin/iggy-connectors
LIB=$DIST/usr/local/lib/iggy-connectors
"$BIN" version >/dev/null || fail "$BIN does not run"
want=()
for d in connectors/sinks/*/ connectors/sources/*/; do
  [ -f "$d/go.mod" ] || continue
  kind=$(basename "$(dirname "$d")") # sinks | sources
  want+=("libiggy_connector_$(basename "$d")_${kind%s}.so")
done
want+=(libiggy_connector_c_file_sink.so)
if command -v cargo >/dev/null; then
  want+=(libiggy_connector_counter_source.so)
else
  log "SKIPPED: cargo not found, so the Rust example plugin was not built (the image's build stage has Rust)"
fi
for w in "${want[@]}"; do
  [ -f "$LIB/$w" ] || fail "$w is missing from /usr/local/lib/iggy-connectors (built: $(ls "$LIB" | tr '\n' ' '))"
done
[ -f "$DIST/etc/iggy-connectors/config.toml" ] || fail "no /etc/iggy-connectors/config.toml"
stage '^FROM debian' | grep -q '^COPY --from=build /dist/ /$' || fail "the runtime stage does not COPY --from=build /dist/ /"
log "built: iggy-connectors, ${#want[@]} plugins: ${want[*]}"

# --- 3. run it as the image does --------------------------------------------------------------------
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
HTTP=127.0.0.1:$(free_port)
NO_IGGY=127.0.0.1:$(free_port) # nothing listens: the runtime keeps retrying, the API still answers
envs=()
while read -r kv; do
  k=${kv%%=*} v=${kv#*=}
  case "$k" in
    IGGY_CONNECTORS_HTTP_ADDRESS) v=$HTTP ;;
    IGGY_CONNECTORS_IGGY_ADDRESS) v=$NO_IGGY ;;
    *) [[ "$v" == /* ]] && v=$DIST$v ;;
  esac
  envs+=("$k=$v")
done < <(stage '^FROM debian' | sed -n 's/^ENV[[:space:]]\{1,\}//p' | tr ' ' '\n' | grep '=')
[ ${#envs[@]} -ge 4 ] || fail "the runtime stage sets too few ENV variables: ${envs[*]}"
mkdir -p "$DIST/var/lib/iggy-connectors/state"
cp configs/demo/connectors/*.toml "$DIST/etc/iggy-connectors/connectors/" # as docker-compose.yml mounts them
clean_env=(env -i "PATH=$PATH" "HOME=$TMP")
"${clean_env[@]}" "${envs[@]}" "$BIN" validate || fail "validate of the image's config with the demo connectors failed"
health() { "${clean_env[@]}" "IGGY_CONNECTORS_HTTP_ADDRESS=${HTTP/127.0.0.1/0.0.0.0}" "$DIST/usr/local/bin/iggy-connectors-healthcheck"; }
(cd "$TMP" && exec "${clean_env[@]}" "${envs[@]}" "$BIN" run) >"$TMP/runtime.log" 2>&1 &
RUNTIME_PID=$!
ok=
for _ in $(seq 100); do
  if health 2>/dev/null; then ok=1; break; fi
  kill -0 "$RUNTIME_PID" 2>/dev/null || break
  sleep 0.1
done
[ -n "$ok" ] || { cat "$TMP/runtime.log" >&2; fail "the HEALTHCHECK command did not succeed against the running runtime"; }
kill -TERM "$RUNTIME_PID"
wait "$RUNTIME_PID" || true
RUNTIME_PID=
if health 2>/dev/null; then fail "the HEALTHCHECK command succeeded with no runtime running"; fi
log "runtime ran with the image's ENV; HEALTHCHECK passed while it ran and failed after it stopped"

# --- 4. lint ----------------------------------------------------------------------------------------
HADOLINT=$ROOT/build/venv/bin/hadolint
if [ -x "$HADOLINT" ]; then
  "$HADOLINT" Dockerfile || fail "hadolint found problems"
  log "hadolint: no problems"
elif [ -n "${IGGY_REQUIRE_TOOLS:-}" ]; then
  fail "hadolint is not installed (scripts/setup.sh installs it into build/venv)"
else
  log "SKIPPED: hadolint not installed (scripts/setup.sh installs it into build/venv)"
fi
log "ok"
