# Settings of the local registry, shared by registry-up.sh, registry-down.sh
# and the node's containerd configuration. Sourced, not run.
# shellcheck shell=bash
# shellcheck disable=SC2034

# Not 5000: the docker-registry package's own service (where systemd runs it)
# takes that port on every interface.
REGISTRY_PORT="${BLUEGREEN_REGISTRY_PORT:-5001}"
REGISTRY="127.0.0.1:${REGISTRY_PORT}"
REGISTRY_DIR="${BLUEGREEN_REGISTRY_DIR:-${BLUEGREEN_CACHE:-${HOME}/.cache/bluegreen-operator}/registry}"
REGISTRY_PID="${REGISTRY_DIR}/registry.pid"
REGISTRY_LOG="${REGISTRY_DIR}/registry.log"

# A script sourcing this file for the address keeps its own log and die.
declare -F log >/dev/null || log() { printf '[registry %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
declare -F die >/dev/null || die() { log "error: $*"; exit 1; }

# Ours only if the pid still runs docker-registry with our config file.
registry_pid_alive() {
  local pid
  [[ -s "${REGISTRY_PID}" ]] || return 1
  pid="$(cat "${REGISTRY_PID}")"
  tr '\0' ' ' 2>/dev/null <"/proc/${pid}/cmdline" | grep -q -- "docker-registry serve ${REGISTRY_DIR}/config.yml"
}

registry_answers() {
  curl -fs --max-time 2 -o /dev/null "http://${REGISTRY}/v2/"
}

# registry_digest REPO TAG: the manifest digest the registry serves for the tag.
registry_digest() {
  curl -fsI -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://${REGISTRY}/v2/$1/manifests/$2" \
    | tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" {print $2}'
}
