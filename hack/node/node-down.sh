#!/usr/bin/env bash
# Stop the real node started by hack/node/node-up.sh and undo what it did on
# the host: exactly its processes (by pid file, and containers by their cgroup
# under /bluegreen), its mounts, network namespaces, bridge, dummy interface,
# routes and kube-proxy's iptables chains. Removes the Node object when the
# control plane is still up. Safe to run twice, or after a crash.
# BLUEGREEN_NODE_KEEP_LOGS=1 keeps ${BLUEGREEN_CLUSTER_DIR}/node/logs.
set -euo pipefail
shopt -s inherit_errexit

# shellcheck source=hack/node/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

[[ ${EUID} -eq 0 ]] || die "needs root"
load_toolchain

stop_pid() {
  # stop_pid NAME: SIGTERM, then SIGKILL after a grace period.
  local name="$1" pid
  [[ -s "${PID_DIR}/${name}.pid" ]] || return 0
  pid="$(cat "${PID_DIR}/${name}.pid")"
  if kill -0 "${pid}" 2>/dev/null; then
    kill -TERM "${pid}" 2>/dev/null || true
    local deadline=$((SECONDS + 15))
    while kill -0 "${pid}" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    kill -KILL "${pid}" 2>/dev/null || true
    log "stopped ${name} (pid ${pid})"
  fi
  rm -f "${PID_DIR}/${name}.pid"
}

stop_group() {
  # stop_group NAME: a daemon that forks a child per connection (the API
  # server forwarder): its whole process group, which setsid made its own.
  local name="$1" pid
  [[ -s "${PID_DIR}/${name}.pid" ]] || return 0
  pid="$(cat "${PID_DIR}/${name}.pid")"
  if pid_alive "${name}"; then
    kill -TERM -- "-${pid}" 2>/dev/null || true
    log "stopped ${name} (process group ${pid})"
  fi
  rm -f "${PID_DIR}/${name}.pid"
}

our_shims() {
  # containerd shims started for our containerd carry its socket in argv.
  local p
  for p in /proc/[0-9]*; do
    tr '\0' ' ' 2>/dev/null <"${p}/cmdline" | grep -q -- "-address ${CONTAINERD_SOCKET} " && echo "${p#/proc/}"
  done
  return 0
}

kill_containers() {
  # Every container process of our pods sits in a cgroup under /bluegreen.
  local h procs pid
  for h in /sys/fs/cgroup/*/"${CGROUP_ROOT_NAME}"; do
    [[ -d "${h}" ]] || continue
    # Cgroups vanish while we walk them (their tasks exit): read, never fail.
    while IFS= read -r procs; do
      for pid in $(cat "${procs}" 2>/dev/null || true); do
        kill -KILL "${pid}" 2>/dev/null || true
      done
    done < <(find "${h}" -name cgroup.procs 2>/dev/null || true)
  done
}

remove_cgroups() {
  local h
  for h in /sys/fs/cgroup/*/"${CGROUP_ROOT_NAME}"; do
    [[ -d "${h}" ]] || continue
    # Deepest first; a cgroup whose tasks are still exiting needs a retry.
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      find "${h}" -depth -type d -exec rmdir {} + 2>/dev/null || true
      [[ -d "${h}" ]] || break
      sleep 0.3
    done
    [[ -d "${h}" ]] && log "warning: could not remove cgroup ${h}"
  done
  return 0
}

remove_netns() {
  # Pod network namespaces made by containerd's CNI calls: the ones holding an
  # address in this node's pod subnet. Deleting a namespace deletes its veth.
  local ns prefix="${POD_SUBNET%.*}."
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
    if ip -n "${ns}" -4 -o addr show 2>/dev/null | grep -q " inet ${prefix}"; then
      ip netns delete "${ns}" 2>/dev/null || true
    fi
  done
  # Namespaces whose processes are gone may be listed empty; those named by
  # containerd's CRI under our state dir are ours as well.
  local m
  while IFS= read -r m; do umount "${m}" 2>/dev/null || umount -l "${m}" 2>/dev/null || true; done \
    < <(mounts_under "${NODE_DIR}/")
  rm -f /var/lib/cni/results/"${CNI_NETWORK}"-* 2>/dev/null || true
}

cleanup_network() {
  if [[ -n "${KUBE_PROXY_BIN}" && -x "${KUBE_PROXY_BIN}" ]]; then
    # kube-proxy removes the chains and rules it created (KUBE-*).
    "${KUBE_PROXY_BIN}" --cleanup >/dev/null 2>&1 || log "warning: kube-proxy --cleanup failed"
  fi
  # The kubelet's own chains (kube-proxy --cleanup leaves them): its
  # localhost firewall and the canaries it watches to detect a flush.
  local ipt table chain
  for ipt in iptables ip6tables; do
    command -v "${ipt}" >/dev/null || continue
    for table in filter nat mangle; do
      for chain in INPUT OUTPUT; do
        while "${ipt}" -w -t "${table}" -D "${chain}" -j KUBE-FIREWALL 2>/dev/null; do :; done
      done
      for chain in KUBE-FIREWALL KUBE-KUBELET-CANARY KUBE-IPTABLES-HINT; do
        if "${ipt}" -w -t "${table}" -F "${chain}" 2>/dev/null; then
          "${ipt}" -w -t "${table}" -X "${chain}" 2>/dev/null || true
        fi
      done
    done
  done
  ip route del "${SERVICE_CIDR}" dev "${BRIDGE}" 2>/dev/null || true
  if ip link show "${BRIDGE}" >/dev/null 2>&1; then ip link delete "${BRIDGE}"; fi
  ip route del blackhole "${CLUSTER_CIDR}" 2>/dev/null || true
}

main() {
  # The kubelet first, so it does not restart containers we are stopping.
  stop_pid kube-proxy
  stop_pid kubelet
  stop_group "${APISERVER_FORWARDER}"
  if [[ -f "${ADMIN_KUBECONFIG}" && -n "${KUBECTL_BIN}" ]] \
     && kctl get --raw /readyz >/dev/null 2>&1; then
    kctl delete node "${NODE_NAME}" --ignore-not-found --wait=false >/dev/null 2>&1 || true
    kctl delete endpointslice -n default "${KUBERNETES_ENDPOINTSLICE}" --ignore-not-found >/dev/null 2>&1 || true
    kctl delete clusterrolebinding -l bluegreen.dev/real-node=true --ignore-not-found >/dev/null 2>&1 || true
  fi
  kill_containers
  local shims
  shims="$(our_shims)"
  stop_pid containerd
  if [[ -n "${shims}" ]]; then
    # shellcheck disable=SC2086 # one pid per word
    kill -KILL ${shims} 2>/dev/null || true
  fi
  kill_containers
  remove_netns
  remove_cgroups
  cleanup_network
  if [[ -s "${SAVED_SYSCTLS}" ]]; then
    sysctl -q -p "${SAVED_SYSCTLS}" >/dev/null 2>&1 || log "warning: could not restore every sysctl"
  fi
  if [[ -d "${NODE_DIR}" ]]; then
    if [[ -n "$(mounts_under "${NODE_DIR}/")" ]]; then
      log "warning: mounts left under ${NODE_DIR}; not removing it"
      mounts_under "${NODE_DIR}/" >&2
      exit 1
    fi
    if [[ "${BLUEGREEN_NODE_KEEP_LOGS:-0}" == 1 ]]; then
      find "${NODE_DIR}" -mindepth 1 -maxdepth 1 ! -name logs -exec rm -rf {} +
    else
      rm -rf "${NODE_DIR}"
    fi
  fi
  log "node ${NODE_NAME} stopped and cleaned up"
}

main "$@"
