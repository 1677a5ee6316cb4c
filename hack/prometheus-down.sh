#!/usr/bin/env bash
# Stops the Prometheus hack/prometheus-up.sh started (by its pid file, and only
# if that pid still runs Prometheus on this cluster's configuration). Its data
# stays in ${BLUEGREEN_CLUSTER_DIR}/prometheus/ until the cluster goes
# (hack/cluster-down.sh removes the folder); --purge removes it now.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${BLUEGREEN_CLUSTER_DIR:-${repo}/.cluster}"
log() { printf '[prometheus] %s\n' "$*" >&2; }

[[ -d "${state}" ]] || { log "nothing to stop: ${state} does not exist"; exit 0; }
state="$(cd "${state}" && pwd)"
pidfile="${state}/pids/prometheus.pid"
if [[ -f "${pidfile}" ]]; then
  pid="$(cat "${pidfile}")"
  if [[ -n "${pid}" && -r "/proc/${pid}/cmdline" ]] &&
    tr '\0' ' ' <"/proc/${pid}/cmdline" | grep -q -- "--config.file=${state}/prometheus/prometheus.yml "; then
    kill -TERM "${pid}" 2>/dev/null || true
    for _ in $(seq 1 100); do
      [[ -e "/proc/${pid}" ]] || break
      sleep 0.1
    done
    if [[ -e "/proc/${pid}" ]]; then
      log "pid ${pid} ignored SIGTERM for 10s; killing it"
      kill -KILL "${pid}" 2>/dev/null || true
    fi
    log "stopped (pid ${pid})"
  else
    log "pid ${pid:-?} is not our Prometheus; leaving it alone"
  fi
  rm -f "${pidfile}"
else
  log "not running"
fi
if [[ "${1:-}" == "--purge" ]]; then
  rm -rf "${state}/prometheus"
  log "removed ${state}/prometheus"
fi
