#!/usr/bin/env bash
# One-time (idempotent) set-up of everything the build, the tests and the demo need on a fresh
# Debian machine: system packages, the Python virtualenv with the independent readers, and a check of
# the Go and Rust toolchains. Safe to run again; does nothing that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

# --- toolchains -----------------------------------------------------------------------------------
command -v go >/dev/null || { echo "Go 1.26+ is required (https://go.dev/dl/)" >&2; exit 1; }
command -v gcc >/dev/null || NEED_APT+=" gcc"
command -v cargo >/dev/null || echo "warning: cargo not found; the Rust example plugin will be skipped" >&2

# --- system packages ------------------------------------------------------------------------------
NEED_APT=${NEED_APT:-}
command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || NEED_APT+=" postgresql postgresql-contrib"
command -v psql >/dev/null || NEED_APT+=" postgresql-client"
command -v systemd-analyze >/dev/null || NEED_APT+=" systemd"
python3 -c 'import venv' 2>/dev/null || NEED_APT+=" python3-venv"
command -v protoc >/dev/null || NEED_APT+=" protobuf-compiler"   # codec tests compile .proto files
command -v flatc >/dev/null || NEED_APT+=" flatbuffers-compiler" # codec tests compile .fbs files
if [ -n "$NEED_APT" ]; then
  log "installing Debian packages:$NEED_APT"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $NEED_APT >/dev/null
fi

# --- Python virtualenv with the independent readers and the official Iggy client --------------------
VENV="$ROOT/build/venv"
if [ ! -x "$VENV/bin/python" ]; then
  log "creating Python virtualenv in build/venv"
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import cbor2, msgpack, apache_iggy, psycopg, pyiceberg, moto' 2>/dev/null; then
  log "installing Python packages (apache-iggy, cbor2, msgpack, psycopg, matplotlib)"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r scripts/requirements.txt
fi

# --- Go modules -----------------------------------------------------------------------------------
log "downloading Go modules"
go mod download
log "set-up complete"
