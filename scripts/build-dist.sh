#!/usr/bin/env bash
# Builds what the container image ships, into DEST laid out as the image's root file system. The
# Dockerfile's build stage runs exactly this script (`RUN scripts/build-dist.sh /dist`), and
# scripts/check-dockerfile.sh runs the build stage's RUN lines as plain commands, so what the image
# contains is built by every `make test`.
#
#   scripts/build-dist.sh DEST
#
#   DEST/usr/local/bin/iggy-connectors               the runtime (CGO_ENABLED=0, stripped)
#   DEST/usr/local/bin/iggy-connectors-healthcheck   GET /health for the image's HEALTHCHECK
#   DEST/usr/local/lib/iggy-connectors/*.so          every plugin (scripts/build-plugins.sh --out)
#   DEST/etc/iggy-connectors/config.toml             the default main config (configs/config.toml)
#   DEST/etc/iggy-connectors/connectors/             connector files (empty: mount yours here)
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: scripts/build-dist.sh DEST" >&2; exit 2; }
mkdir -p "$1"
DEST=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."
export GOFLAGS=${GOFLAGS:--buildvcs=false} # the image's build context has no .git
log() { printf '\033[1;34m[dist]\033[0m %s\n' "$*"; }

log "runtime -> $DEST/usr/local/bin/iggy-connectors"
mkdir -p "$DEST/usr/local/bin" "$DEST/usr/local/lib/iggy-connectors" "$DEST/etc/iggy-connectors/connectors"
CGO_ENABLED=0 go build -ldflags='-s -w' -o "$DEST/usr/local/bin/iggy-connectors" ./runtime/cmd/iggy-connectors
install -m 0755 scripts/healthcheck.sh "$DEST/usr/local/bin/iggy-connectors-healthcheck"
log "plugins -> $DEST/usr/local/lib/iggy-connectors"
scripts/build-plugins.sh --out "$DEST/usr/local/lib/iggy-connectors"
install -m 0644 configs/config.toml "$DEST/etc/iggy-connectors/config.toml"
log "done"
