#!/usr/bin/env bash
# Throwaway Elasticsearch or OpenSearch node for the tests of the Elasticsearch connectors.
#
#   scripts/elasticsearch.sh start  FLAVOR   download (once), unpack and start a single node; prints env
#   scripts/elasticsearch.sh stop   FLAVOR   stop it and remove its directory
#   scripts/elasticsearch.sh status FLAVOR   say whether it runs (exit 0) or not (exit 3)
#   scripts/elasticsearch.sh env    FLAVOR   print `export IGGY_TEST_ES_URL=... IGGY_TEST_ES_PIDFILE=...` (OS for opensearch)
#
# FLAVOR is `elasticsearch` (default) or `opensearch`. The pinned versions are the official stripped
# distributions that Maven Central serves (integ-test-zip): Elasticsearch 8.19.21 (run on Java 17,
# security disabled; it lacks a few modules, e.g. `GET /` answers 405) and OpenSearch 3.8.0 (all
# modules; needs Java >= 21: the Temurin 25 JDK under /usr/lib/jvm). The zips are fetched with
# `mvn dependency:copy` into ~/.cache/iggy-connectors/elasticsearch and reused.
#
# Both refuse to run as root: the node runs as the system user `iggy-es` (created when missing) from
# /tmp/iggy-connectors-FLAVOR-PORT, as a single node on 127.0.0.1 with a 512 MB heap (about 800 MB
# RSS). Ports: ES_PORT (default 19200) and OS_PORT (default 19210); transport on PORT+100.
# Every command is idempotent.
set -euo pipefail

cmd=${1:-}
flavor=${2:-elasticsearch}
ES_VERSION=8.19.21
OS_VERSION=3.8.0
CACHE=${IGGY_ES_CACHE:-$HOME/.cache/iggy-connectors/elasticsearch}
USER_NAME=iggy-es

die() { echo "elasticsearch.sh: $*" >&2; exit 1; }

case "$flavor" in
  elasticsearch)
    PORT=${ES_PORT:-19200}
    ARTIFACT=org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip
    ZIP=$CACHE/elasticsearch-$ES_VERSION.zip
    TOP=elasticsearch-$ES_VERSION
    BINARY=bin/elasticsearch
    VAR=IGGY_TEST_ES_URL
    PIDVAR=IGGY_TEST_ES_PIDFILE
    ;;
  opensearch)
    PORT=${OS_PORT:-19210}
    ARTIFACT=org.opensearch.distribution.integ-test-zip:opensearch:$OS_VERSION:zip
    ZIP=$CACHE/opensearch-$OS_VERSION.zip
    TOP=opensearch-$OS_VERSION
    BINARY=bin/opensearch
    VAR=IGGY_TEST_OS_URL
    PIDVAR=IGGY_TEST_OS_PIDFILE
    ;;
  *) die "unknown flavor '$flavor' (want elasticsearch or opensearch)" ;;
esac
DIR=/tmp/iggy-connectors-$flavor-$PORT
HOME_DIR=$DIR/$TOP
PIDFILE=$DIR/node.pid
URL=http://127.0.0.1:$PORT

# java_home finds a JDK of at least the given major version (17 for Elasticsearch 8, 21 for OpenSearch 3).
java_home() {
  local want=$1 d v
  for d in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/*; do
    [ -x "$d/bin/java" ] || continue
    v=$("$d/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    [ -n "$v" ] && [ "${v%%.*}" -ge "$want" ] && { echo "$d"; return; }
  done
  die "no JDK >= $want under /usr/lib/jvm"
}

running() {
  [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

# healthy asks for a yellow or green cluster (curl when installed, else Python's urllib).
healthy() {
  local u="$URL/_cluster/health?wait_for_status=yellow&timeout=1s"
  if command -v curl >/dev/null; then curl -fsS -m 5 "$u" >/dev/null 2>&1
  else python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' "$u" >/dev/null 2>&1; fi
}

# print_env prints the suites' environment: the URL and the node's pid file (the outage test stops
# the node with SIGSTOP for a while).
print_env() { echo "export $VAR='$URL' $PIDVAR='$PIDFILE'"; }

fetch() {
  [ -s "$ZIP" ] && return 0
  mkdir -p "$CACHE"
  command -v mvn >/dev/null || die "mvn not found (Maven fetches the distribution)"
  mvn -q -B dependency:copy -Dartifact="$ARTIFACT" -DoutputDirectory="$CACHE" >&2 || die "mvn dependency:copy $ARTIFACT failed"
  [ -s "$ZIP" ] || die "$ZIP missing after mvn dependency:copy"
}

case "$cmd" in
  start)
    if running && healthy; then echo "elasticsearch.sh: $flavor already running on $URL" >&2; print_env; exit 0; fi
    fetch
    id "$USER_NAME" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$USER_NAME" \
      || die "cannot create user $USER_NAME (run as root)"
    if running; then kill "$(cat "$PIDFILE")" 2>/dev/null || true; sleep 2; fi
    rm -rf "$DIR"
    mkdir -p "$DIR/data" "$DIR/logs"
    if command -v unzip >/dev/null; then unzip -q "$ZIP" -d "$DIR"
    else python3 -m zipfile -e "$ZIP" "$DIR" && chmod +x "$HOME_DIR"/bin/*; fi
    chown -R "$USER_NAME": "$DIR"
    if [ "$flavor" = elasticsearch ]; then
      jh=$(java_home 17)
      extra=(-Expack.security.enabled=false)
      envs=(ES_JAVA_HOME="$jh" ES_JAVA_OPTS="-Xms512m -Xmx512m" ES_PATH_CONF="$HOME_DIR/config")
    else
      jh=$(java_home 21)
      extra=()
      envs=(OPENSEARCH_JAVA_HOME="$jh" OPENSEARCH_JAVA_OPTS="-Xms512m -Xmx512m" OPENSEARCH_PATH_CONF="$HOME_DIR/config")
    fi
    # -d daemonizes; the daemon's own output goes to a file, or the calling shell would wait on it.
    (cd "$HOME_DIR" && runuser -u "$USER_NAME" -- env "${envs[@]}" "$BINARY" -d -p "$PIDFILE" \
      -Ediscovery.type=single-node -Ecluster.name="iggy-$flavor" \
      -Enetwork.host=127.0.0.1 -Ehttp.host=127.0.0.1 -Ehttp.port="$PORT" \
      -Etransport.host=127.0.0.1 -Etransport.port=$((PORT + 100)) \
      -Epath.data="$DIR/data" -Epath.logs="$DIR/logs" \
      -Ecluster.routing.allocation.disk.threshold_enabled=false \
      "${extra[@]}" >"$DIR/console.log" 2>&1 </dev/null) \
      || { tail -n 40 "$DIR/console.log" >&2 || true; die "$flavor did not start"; }
    for i in $(seq 1 180); do
      if healthy; then
        echo "elasticsearch.sh: $flavor started on $URL ($DIR)" >&2
        print_env
        exit 0
      fi
      # OpenSearch's -d returns before the pid file is written: a missing pid file is fatal only late.
      if { [ -f "$PIDFILE" ] || [ "$i" -gt 60 ]; } && ! running; then
        tail -n 40 "$DIR/console.log" >&2 || true
        die "$flavor exited during start (logs: $DIR/logs)"
      fi
      sleep 1
    done
    tail -n 40 "$DIR/console.log" >&2 || true
    die "$flavor did not answer on $URL within 180 s (logs: $DIR/logs)"
    ;;
  stop)
    if running; then
      pid=$(cat "$PIDFILE")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -rf "$DIR"
    echo "elasticsearch.sh: $flavor stopped, removed $DIR" >&2
    ;;
  status)
    if running && healthy; then echo "elasticsearch.sh: $flavor running on $URL"; else echo "elasticsearch.sh: $flavor not running ($URL)"; exit 3; fi
    ;;
  env)
    print_env
    ;;
  *) echo "usage: $0 start|stop|status|env [elasticsearch|opensearch]" >&2; exit 2 ;;
esac
