#!/usr/bin/env bash
# Stops exactly the processes hack/cluster-up.sh started (by the pid files in
# its state folder, and only if each pid still runs the binary it started) and
# removes the state folder. --keep-state stops the processes but keeps logs
# and certificates, for post-mortems (cluster-up uses it when a start fails).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
eval "$("${repo}/hack/toolchain-env.sh")"
bin="${BLUEGREEN_TOOLCHAIN_DIR}/bin"
state="${BLUEGREEN_CLUSTER_DIR:-${repo}/.cluster}"
keep_state=0
[[ "${1:-}" == "--keep-state" ]] && keep_state=1

log() { printf '[cluster-down] %s\n' "$*" >&2; }

if [[ ! -d "${state}" ]]; then
  log "nothing to stop: ${state} does not exist"
  exit 0
fi
pids="${state}/pids"

# A real node first: its kubelet and containerd hold mounts inside the state folder.
if [[ -d "${state}/node" ]]; then
  "${repo}/hack/node/node-down.sh" || log "node-down reported a problem; carrying on"
fi
# Prometheus too: it writes inside the state folder.
if [[ -f "${pids}/prometheus.pid" ]]; then
  "${repo}/hack/prometheus-down.sh" || log "prometheus-down reported a problem; carrying on"
fi

# ours NAME: prints the pid from NAME's pid file if that pid still runs the
# binary cluster-up started (pids are reused; never signal a stranger).
ours() {
  local f="${pids}/$1.pid" pid
  [[ -f "${f}" ]] || return 1
  pid="$(cat "${f}")"
  if [[ -n "${pid}" && -r "/proc/${pid}/cmdline" ]] &&
    tr '\0' ' ' <"/proc/${pid}/cmdline" | grep -q -- "${bin}/$1 "; then
    echo "${pid}"
    return 0
  fi
  log "$1: pid ${pid:-?} is not running ${bin}/$1; leaving it alone"
  rm -f "${f}"
  return 1
}

# stop NAME...: SIGTERM to all at once (graceful shutdowns overlap instead of
# adding up), SIGKILL whatever still runs after 10 s.
stop() {
  local name pid
  local -A running=()
  for name in "$@"; do
    pid="$(ours "${name}")" || continue
    kill -TERM "${pid}" 2>/dev/null || true
    running["${name}"]="${pid}"
  done
  for _ in $(seq 1 100); do
    for name in "${!running[@]}"; do
      [[ -e "/proc/${running[${name}]}" ]] || {
        log "stopped ${name} (pid ${running[${name}]})"
        rm -f "${pids}/${name}.pid"
        unset "running[${name}]"
      }
    done
    ((${#running[@]})) || return 0
    sleep 0.1
  done
  for name in "${!running[@]}"; do
    log "${name} (pid ${running[${name}]}) ignored SIGTERM for 10s; killing it"
    kill -KILL "${running[${name}]}" 2>/dev/null || true
    rm -f "${pids}/${name}.pid"
  done
}

# Everything that talks to etcd first, etcd last, so the API server's
# shutdown never meets a vanished store.
stop kwok kube-scheduler kube-controller-manager kube-apiserver
stop etcd

if ((keep_state)); then
  exit 0
fi
# Delete the whole folder only if cluster-up made it (marker file), so a
# mistyped BLUEGREEN_CLUSTER_DIR cannot wipe anything else.
if [[ -f "${state}/.bluegreen-cluster" ]]; then
  rm -rf "${state}"
else
  rm -rf "${state}/pki" "${state}/logs" "${state}/pids" "${state}/etcd" "${state}/kwok" \
    "${state}/kubeconfig" "${state}/env" "${state}/.lock"
fi
log "removed ${state}"
