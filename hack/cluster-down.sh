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

# Clients first, etcd last, so nothing logs storms of connection errors.
for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
  f="${pids}/${name}.pid"
  [[ -f "${f}" ]] || continue
  pid="$(cat "${f}")"
  if [[ -n "${pid}" && -r "/proc/${pid}/cmdline" ]] &&
    tr '\0' ' ' <"/proc/${pid}/cmdline" | grep -q -- "${bin}/${name} "; then
    kill -TERM "${pid}" 2>/dev/null || true
    for _ in $(seq 1 100); do
      [[ -e "/proc/${pid}" ]] || break
      sleep 0.1
    done
    if [[ -e "/proc/${pid}" ]]; then
      log "${name} (pid ${pid}) ignored SIGTERM for 10s; killing it"
      kill -KILL "${pid}" 2>/dev/null || true
    fi
    log "stopped ${name} (pid ${pid})"
  else
    log "${name}: pid ${pid:-?} is not running ${bin}/${name}; leaving it alone"
  fi
  rm -f "${f}"
done

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
