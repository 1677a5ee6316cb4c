#!/usr/bin/env bash
# Stop the local registry started by registry-up.sh (its own pid only). The
# pushed images stay under the cache folder for the next start.
set -euo pipefail

# shellcheck source=hack/registry/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

if ! registry_pid_alive; then
  rm -f "${REGISTRY_PID}"
  log "not running"
  exit 0
fi
pid="$(cat "${REGISTRY_PID}")"
kill -TERM "${pid}"
deadline=$((SECONDS + 15))
while kill -0 "${pid}" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
kill -0 "${pid}" 2>/dev/null && kill -KILL "${pid}"
rm -f "${REGISTRY_PID}"
log "stopped (pid ${pid})"
