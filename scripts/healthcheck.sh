#!/usr/bin/env bash
# GET /health of a running iggy-connectors (the container image's HEALTHCHECK, installed as
# /usr/local/bin/iggy-connectors-healthcheck): exit 0 when it answers 200, 1 otherwise. Plain bash
# (/dev/tcp), so the image needs no curl. The address is IGGY_CONNECTORS_HTTP_ADDRESS (default
# 127.0.0.1:8081; a wildcard host such as 0.0.0.0 is asked on 127.0.0.1). No TLS and no API key:
# /health is open even when http.api_key is set.
set -uo pipefail
addr=${IGGY_CONNECTORS_HTTP_ADDRESS:-127.0.0.1:8081}
host=${addr%:*} port=${addr##*:}
case "$host" in "" | 0.0.0.0 | "[::]" | "::") host=127.0.0.1 ;; esac
host=${host#[} host=${host%]}
exec 3<>"/dev/tcp/$host/$port" 2>/dev/null || { echo "unhealthy: nothing listens on $host:$port" >&2; exit 1; }
printf 'GET /health HTTP/1.0\r\nHost: %s\r\n\r\n' "$host" >&3
read -r -t 3 _ status _ <&3 || status=
[ "$status" = 200 ] && exit 0
echo "unhealthy: GET http://$host:$port/health answered ${status:-nothing}" >&2
exit 1
