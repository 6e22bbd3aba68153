#!/bin/sh
# The image's HEALTHCHECK: GET /v1/status when the container runs `cellule pool` (tini → cellule
# pool), healthy otherwise (worker, vip sidecar and one-off admin commands have no HTTP port).
set -eu
if tr '\0' ' ' </proc/1/cmdline | grep -Eq '(^| )(cellule|[^ ]*/main\.js) pool( |$)'; then
  exec curl -fsS -o /dev/null --max-time 4 "http://127.0.0.1:${CELLULE_PORT:-18080}/v1/status"
fi
exit 0
