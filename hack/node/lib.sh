# Shared settings and helpers of hack/node/node-up.sh and node-down.sh.
# Sourced, not run. Names, addresses and ports are variables, but one real
# node per machine is the rule: kube-proxy's iptables chains are global.
# shellcheck shell=bash
# The settings below are read by the scripts that source this file.
# shellcheck disable=SC2034

NODE_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${NODE_LIB_DIR}/../.." && pwd)"
CLUSTER_DIR="${BLUEGREEN_CLUSTER_DIR:-${REPO_ROOT}/.cluster}"
NODE_DIR="${BLUEGREEN_REAL_NODE_DIR:-${CLUSTER_DIR}/node}"
CACHE_ROOT="${BLUEGREEN_CACHE:-${HOME}/.cache/bluegreen-operator}"

NODE_NAME="${BLUEGREEN_REAL_NODE_NAME:-bluegreen-node-0}"
# Pods of this node: one /24 on a Linux bridge, outside the range KWOK hands
# to fake pods (hack/cluster-up.sh: 198.18.0.0/17), so a real pod IP can never
# also belong to a fake pod. CLUSTER_CIDR covers both: it is what kube-proxy
# treats as pod traffic, and what stays on this machine (see node-up.sh).
CLUSTER_CIDR="${BLUEGREEN_REAL_NODE_CLUSTER_CIDR:-198.18.0.0/16}"
POD_SUBNET="${BLUEGREEN_REAL_NODE_POD_SUBNET:-198.18.200.0/24}"
SERVICE_CIDR="${BLUEGREEN_SERVICE_CIDR:-198.19.0.0/16}"
BRIDGE="${BLUEGREEN_REAL_NODE_BRIDGE:-bg-cni0}"
# The node's own address is the pods' gateway on that bridge: the kubelet
# refuses a loopback node IP, the machine's NIC must never carry cluster
# traffic, and this kernel has no dummy interfaces.
_pod_net="${POD_SUBNET%/*}"
POD_GATEWAY="${_pod_net%.*}.$(( ${_pod_net##*.} + 1 ))"
POD_PREFIX_LEN="${POD_SUBNET#*/}"
NODE_IP="${POD_GATEWAY}"
CNI_NETWORK="${BLUEGREEN_CNI_NETWORK:-bluegreen-node}"

KUBELET_PORT="${BLUEGREEN_KUBELET_PORT:-10250}"
KUBELET_HEALTHZ_PORT="${BLUEGREEN_KUBELET_HEALTHZ_PORT:-10248}"
KUBE_PROXY_HEALTHZ_PORT="${BLUEGREEN_KUBE_PROXY_HEALTHZ_PORT:-10256}"
KUBE_PROXY_METRICS_PORT="${BLUEGREEN_KUBE_PROXY_METRICS_PORT:-10249}"

PAUSE_IMAGE="${BLUEGREEN_PAUSE_IMAGE:-bluegreen.local/pause:1}"
CONTAINERD_ROOT="${NODE_DIR}/containerd/root"
CONTAINERD_STATE="${NODE_DIR}/containerd/state"
CONTAINERD_SOCKET="${NODE_DIR}/containerd/containerd.sock"
REGISTRY_HOSTS_DIR="${NODE_DIR}/containerd/certs.d"
CNI_CONF_DIR="${NODE_DIR}/cni/net.d"
CNI_IPAM_DIR="${NODE_DIR}/cni/ipam"
CGROUP_ROOT_NAME="bluegreen"
PID_DIR="${NODE_DIR}/pids"
# Host settings node-up changes (ours, and the ones the kubelet sets at start);
# their previous values are saved and node-down.sh puts them back.
SAVED_SYSCTLS="${NODE_DIR}/sysctl-saved.conf"
TOUCHED_SYSCTLS=(net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables vm.overcommit_memory
  vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes)
LOG_DIR="${NODE_DIR}/logs"

ADMIN_KUBECONFIG="${BLUEGREEN_KUBECONFIG:-${CLUSTER_DIR}/kubeconfig}"

# Pods reach the API server as in any cluster: through the `kubernetes`
# Service. The control plane listens on loopback only, so the node forwards
# its own address's API port there (TCP, TLS untouched), and an EndpointSlice
# of that Service names this address.
APISERVER_FORWARDER="apiserver-forwarder"
KUBERNETES_ENDPOINTSLICE="kubernetes-${NODE_NAME}"

log() { printf '[node %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Binaries: the cached toolchain (kubelet, kube-proxy, kubectl) first, then a
# containerd 2.x built by hack/node/build-containerd.sh if one exists, then
# Debian's packages.
load_toolchain() {
  if [[ -x "${REPO_ROOT}/hack/toolchain-env.sh" ]]; then
    eval "$("${REPO_ROOT}/hack/toolchain-env.sh")"
  fi
  KUBELET_BIN="${KUBELET_BIN:-$(command -v kubelet || true)}"
  KUBE_PROXY_BIN="${KUBE_PROXY_BIN:-$(command -v kube-proxy || true)}"
  KUBECTL_BIN="${KUBECTL_BIN:-$(command -v kubectl || true)}"
  local cd_dir="${BLUEGREEN_CONTAINERD_DIR:-}"
  if [[ -z "${cd_dir}" && "${BLUEGREEN_CONTAINERD:-debian}" != debian ]]; then
    cd_dir="$(ls -d "${CACHE_ROOT}/containerd/${BLUEGREEN_CONTAINERD}/bin" 2>/dev/null || true)"
  fi
  if [[ -n "${cd_dir}" ]]; then
    CONTAINERD_BIN="${cd_dir}/containerd"
    CTR_BIN="${cd_dir}/ctr"
    export PATH="${cd_dir}:${PATH}" # the shim is found on PATH by containerd
  else
    CONTAINERD_BIN="$(command -v containerd || true)"
    CTR_BIN="$(command -v ctr || true)"
  fi
  RUNC_BIN="${RUNC_BIN:-$(command -v runc || true)}"
  CNI_BIN_DIR="${BLUEGREEN_CNI_BIN_DIR:-/usr/lib/cni}"
}

kctl() { "${KUBECTL_BIN}" --kubeconfig "${ADMIN_KUBECONFIG}" "$@"; }

# A pid file names a live process of ours only if that pid exists, is not a
# zombie waiting to be reaped, and still runs the program named in the file
# (pids are reused).
pid_alive() {
  local name="$1" pid state
  [[ -s "${PID_DIR}/${name}.pid" ]] || return 1
  pid="$(cat "${PID_DIR}/${name}.pid")"
  state="$(awk '{print $3}' "/proc/${pid}/stat" 2>/dev/null)" || return 1
  [[ -n "${state}" && "${state}" != Z ]] || return 1
  tr '\0' ' ' 2>/dev/null <"/proc/${pid}/cmdline" | grep -q -- "${name}"
}

# Render a ${NAME} template with the variables above (python's string.Template
# keeps JSON and YAML braces intact, unlike a sed of every '$').
render() {
  local template="$1" out="$2"
  python3 - "${template}" "${out}" <<'PY'
import os, string, sys
src, dst = sys.argv[1], sys.argv[2]
text = string.Template(open(src).read()).substitute(os.environ)
with open(dst, "w") as handle:
    handle.write(text)
PY
}

export_render_vars() {
  export POD_GATEWAY NODE_DIR NODE_NAME NODE_IP CLUSTER_CIDR POD_SUBNET BRIDGE CNI_NETWORK KUBELET_PORT \
    KUBELET_HEALTHZ_PORT KUBE_PROXY_HEALTHZ_PORT KUBE_PROXY_METRICS_PORT PAUSE_IMAGE \
    CONTAINERD_ROOT CONTAINERD_STATE CONTAINERD_SOCKET CNI_CONF_DIR CNI_IPAM_DIR RUNC_BIN CNI_BIN_DIR \
    REGISTRY_HOSTS_DIR
}

# Every mount under a prefix, deepest first (unmounting a parent first fails).
mounts_under() {
  local prefix="$1"
  awk -v p="${prefix}" '{ gsub(/\\040/, " ", $5); if (index($5, p) == 1) print $5 }' /proc/self/mountinfo \
    | awk '{ print length($0) "\t" $0 }' | sort -rn | cut -f2-
}
