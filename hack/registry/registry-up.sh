#!/usr/bin/env bash
# Start the local OCI registry (Debian's docker-registry, distribution 2.8) on
# 127.0.0.1:${BLUEGREEN_REGISTRY_PORT:-5001}, plain HTTP, no auth, as a process
# of its own (no systemd unit). Its blobs live under the cache folder, so the
# images survive a cluster restart. `make image` pushes there and the real
# node's containerd pulls from there (hack/node/: a hosts.toml for this
# address). Idempotent; stop it with hack/registry/registry-down.sh.
set -euo pipefail
shopt -s inherit_errexit

# shellcheck source=hack/registry/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

command -v docker-registry >/dev/null || die "docker-registry missing: hack/install-system-deps.sh installs it"
if registry_pid_alive && registry_answers; then
  log "already serving on ${REGISTRY} (pid $(cat "${REGISTRY_PID}"))"
  exit 0
fi
mkdir -p "${REGISTRY_DIR}/data"
exec 9>"${REGISTRY_DIR}/.lock"
flock 9
if registry_pid_alive && registry_answers; then
  exit 0
fi
if registry_pid_alive; then
  die "pid $(cat "${REGISTRY_PID}") is ours but ${REGISTRY} does not answer (see ${REGISTRY_LOG})"
fi
cat >"${REGISTRY_DIR}/config.yml" <<YAML
version: 0.1
log:
  level: info
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: ${REGISTRY_DIR}/data
  delete:
    enabled: true
http:
  addr: ${REGISTRY}
  headers:
    X-Content-Type-Options: [nosniff]
YAML
# The daemon outlives this script: it keeps no descriptor beyond its stdio, or
# a lock held by the caller (build-images.sh's, this script's own) would stay
# taken for as long as the registry runs, and the next build would wait forever.
(
  for fd in /proc/"${BASHPID}"/fd/*; do
    fd="${fd##*/}"
    ((fd > 2)) && exec {fd}>&-
  done
  exec setsid docker-registry serve "${REGISTRY_DIR}/config.yml" >>"${REGISTRY_LOG}" 2>&1 </dev/null
) &
echo $! >"${REGISTRY_PID}"
deadline=$((SECONDS + 30))
until registry_answers; do
  registry_pid_alive || die "docker-registry exited (see ${REGISTRY_LOG})"
  ((SECONDS < deadline)) || die "docker-registry not answering on ${REGISTRY} after 30s"
  sleep 0.2
done
log "serving on http://${REGISTRY} (pid $(cat "${REGISTRY_PID}"), data ${REGISTRY_DIR}/data)"
