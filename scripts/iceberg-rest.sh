#!/usr/bin/env bash
# Apache Iceberg REST catalog + S3-compatible store for the Iceberg sink's tests, on 127.0.0.1.
#
#   scripts/iceberg-rest.sh start   gather the jars (once), start both servers, print the env lines
#   scripts/iceberg-rest.sh stop    stop both servers
#   scripts/iceberg-rest.sh env     print `export IGGY_TEST_ICEBERG_REST_URI=... IGGY_TEST_S3_...` lines
#
# REST catalog: Apache Iceberg's own org.apache.iceberg.rest.RESTCatalogServer (what the
# apache/iceberg-rest-fixture image runs), from Maven Central jars that test/iceberg-rest/pom.xml
# gathers with `mvn dependency:copy-dependencies` into ~/.cache/iggy-connectors/iceberg-rest-<v>
# (never committed); its JDBC catalog is an in-memory SQLite, its FileIO S3FileIO, its warehouse
# s3://warehouse/wh, its port CATALOG_REST_PORT (catalog property rest.port). It listens on all
# interfaces (the server has no host option).
# S3: moto's server (`moto[server]`, PyPI, in build/venv through scripts/requirements.txt): a
# pip install already done by set-up, a 1 s start and ~60 MB, where MinIO or versitygw would be a
# multi-minute Go build on these 2 cores. It keeps objects in memory and binds 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ICEBERG_VERSION=1.10.0
CACHE=${IGGY_ICEBERG_REST_CACHE:-$HOME/.cache/iggy-connectors/iceberg-rest-$ICEBERG_VERSION}
STATE=$ROOT/build/iceberg-rest
PY=$ROOT/build/venv/bin/python
BUCKET=warehouse
KEY=iggytest
SECRET=iggytestsecret

die() { echo "iceberg-rest.sh: $*" >&2; exit 1; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
alive() { [ -f "$STATE/$1.pid" ] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

print_env() {
  [ -f "$STATE/ports" ] || die "not started"
  # shellcheck disable=SC1091
  . "$STATE/ports"
  echo "export IGGY_TEST_ICEBERG_REST_URI=http://127.0.0.1:$REST_PORT"
  echo "export IGGY_TEST_ICEBERG_WAREHOUSE=s3://$BUCKET/wh"
  echo "export IGGY_TEST_S3_ENDPOINT=http://127.0.0.1:$S3_PORT"
  echo "export IGGY_TEST_S3_ACCESS_KEY=$KEY"
  echo "export IGGY_TEST_S3_SECRET_KEY=$SECRET"
}

# http METHOD URL: one request with Python's urllib (curl is not on every CI image); fails on non-2xx.
http() { "$PY" -c 'import sys, urllib.request as u; u.urlopen(u.Request(sys.argv[2], method=sys.argv[1]), timeout=5)' "$1" "$2"; }

wait_http() { # url seconds
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    http GET "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

stop() {
  local p
  for p in rest s3; do
    if alive "$p"; then kill "$(cat "$STATE/$p.pid")" 2>/dev/null || true; fi
    rm -f "$STATE/$p.pid"
  done
  rm -f "$STATE/ports"
}

start() {
  command -v java >/dev/null || die "java not found"
  command -v mvn >/dev/null || die "mvn not found"
  [ -x "$PY" ] || die "build/venv missing: run scripts/setup.sh"
  "$PY" -c 'import moto.server' 2>/dev/null || "$ROOT/build/venv/bin/pip" install -q --disable-pip-version-check -r scripts/requirements.txt >&2
  if [ ! -f "$CACHE/.complete" ]; then
    echo "iceberg-rest.sh: gathering the REST catalog jars into $CACHE" >&2
    mkdir -p "$CACHE/lib"
    mvn -q -B -f test/iceberg-rest/pom.xml dependency:copy-dependencies \
      -DoutputDirectory="$CACHE/lib" -DincludeScope=runtime >&2
    touch "$CACHE/.complete"
  fi
  if alive rest && alive s3; then print_env; return; fi
  stop
  mkdir -p "$STATE"
  local s3port restport
  s3port=$(free_port)
  restport=$(free_port)
  "$PY" -m moto.server -H 127.0.0.1 -p "$s3port" >"$STATE/s3.log" 2>&1 &
  echo $! >"$STATE/s3.pid"
  wait_http "http://127.0.0.1:$s3port/moto-api/" 30 || die "moto did not start; $(tail -n 20 "$STATE/s3.log")"
  http PUT "http://127.0.0.1:$s3port/$BUCKET" || die "cannot create bucket $BUCKET"
  (
    export CATALOG_REST_PORT=$restport CATALOG_WAREHOUSE=s3://$BUCKET/wh
    export CATALOG_IO__IMPL=org.apache.iceberg.aws.s3.S3FileIO
    export CATALOG_S3_ENDPOINT=http://127.0.0.1:$s3port CATALOG_S3_PATH__STYLE__ACCESS=true
    export CATALOG_S3_ACCESS__KEY__ID=$KEY CATALOG_S3_SECRET__ACCESS__KEY=$SECRET
    export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=$KEY AWS_SECRET_ACCESS_KEY=$SECRET
    exec java -Xmx256m -cp "$CACHE/lib/*" org.apache.iceberg.rest.RESTCatalogServer
  ) >"$STATE/rest.log" 2>&1 &
  echo $! >"$STATE/rest.pid"
  printf 'REST_PORT=%s\nS3_PORT=%s\n' "$restport" "$s3port" >"$STATE/ports"
  wait_http "http://127.0.0.1:$restport/v1/config" 90 || { tail -n 30 "$STATE/rest.log" >&2; stop; die "REST catalog did not start"; }
  print_env
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
