#!/usr/bin/env bash
# Builds every connector plugin into build/plugins/ as libiggy_connector_<name>_<sink|source>.so:
#   - each Go plugin module under connectors/sinks/* and connectors/sources/* (go build -buildmode=c-shared);
#   - the C example (make -C sdk/c) and the Rust example (cargo build --release in sdk/rust);
#   - with --test, also the test-only plugins: Go modules under test/plugins/* and the C variants
#     in test/plugins/cvariants (bad ABI version, missing symbol, abort or hang in consume).
# --out DIR writes the libraries to DIR instead (scripts/build-dist.sh, the container image).
# A missing cargo is tolerated with a loud warning (the Rust example is then absent); everything else
# failing stops the script.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT="$ROOT/build/plugins"
WITH_TEST=0
while [ $# -gt 0 ]; do
  case "$1" in
    --test) WITH_TEST=1 ;;
    --out) [ $# -ge 2 ] || { echo "build-plugins.sh: --out needs a directory" >&2; exit 2; }
      mkdir -p "$2" && OUT=$(cd "$2" && pwd); shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "build-plugins.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$OUT"
log() { printf '\033[1;34m[plugins]\033[0m %s\n' "$*"; }
warn() { printf '\033[1;33m[plugins] WARNING:\033[0m %s\n' "$*" >&2; }

# build_go DIR KIND: DIR is a module whose main package registers one plugin; its name is the
# directory's base name.
build_go() {
  local dir=$1 kind=$2 name
  name=$(basename "$dir")
  [ -f "$dir/go.mod" ] || return 0
  log "go    $dir -> libiggy_connector_${name}_${kind}.so"
  (cd "$dir" && CGO_ENABLED=1 go build -buildmode=c-shared -o "$OUT/libiggy_connector_${name}_${kind}.so" .)
  rm -f "$OUT/libiggy_connector_${name}_${kind}.h"
}

for d in connectors/sinks/*/; do build_go "${d%/}" sink; done
for d in connectors/sources/*/; do build_go "${d%/}" source; done

if [ -f sdk/c/Makefile ]; then
  log "c     sdk/c"
  make -s -C sdk/c
  cp sdk/c/build/libiggy_connector_*.so "$OUT/"
else
  warn "sdk/c/Makefile not found: the C example plugin is not built"
fi

if [ -f sdk/rust/Cargo.toml ]; then
  if command -v cargo >/dev/null; then
    log "rust  sdk/rust"
    (cd sdk/rust && cargo build --release --quiet)
    cp sdk/rust/target/release/libiggy_connector_*.so "$OUT/"
  else
    warn "cargo not found: the Rust example plugin (sdk/rust) is NOT built; install Rust 1.85+ (rustup) to build it"
  fi
fi

if [ "$WITH_TEST" = 1 ]; then
  for d in test/plugins/*/; do
    d=${d%/}
    [ -f "$d/go.mod" ] || continue
    [ "$(basename "$d")" = double ] && continue # panics when loaded: built by its test only
    kind=sink
    grep -q 'sdk.NewSource' "$d"/*.go && kind=source
    build_go "$d" "$kind"
  done
  for v in BADABI:badabi NOSYM:nosym ABORT:cabort HANG:chang; do
    log "c     test/plugins/cvariants ($v)"
    gcc -shared -fPIC -O2 -Wall -Wextra -Werror -Iabi -DVARIANT_${v%%:*} \
      -o "$OUT/libiggy_connector_${v##*:}_sink.so" test/plugins/cvariants/cvariants.c
  done
fi

log "done: $(ls "$OUT" | wc -l) libraries in $OUT"
ls -1 "$OUT"
