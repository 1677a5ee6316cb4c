#!/usr/bin/env bash
# Start a real Kubernetes node on this machine and join it to the local
# control plane started by hack/cluster-up.sh:
#
#   containerd (own root, state and socket under ${BLUEGREEN_CLUSTER_DIR}/node)
#   runc, CNI bridge + host-local + portmap (pods in 198.18.200.0/24)
#   kubelet (cgroupfs driver, cgroups v1 allowed) registering Node bluegreen-node-0
#   kube-proxy (iptables mode), so ClusterIP Services answer from this machine
#   the `kubernetes` Service for pods (a TCP forwarder from the node IP to the
#   loopback API server, and its EndpointSlice), so in-cluster clients work
#   containerd pulls from the local registry (hack/registry/) over plain HTTP
#
# The node carries the label and the taint bluegreen.dev/real-node=true: the
# KWOK-based tests never land on it by accident, and e2e pods opt in with a
# nodeSelector and a toleration. Images spacelift-app:v1/v2 (and the sandbox
# image) are built by hack/images/build-app-images.sh and imported here, so
# pods use `imagePullPolicy: Never`.
#
# Idempotent: a second run with everything healthy only re-checks readiness.
# Stop with hack/node/node-down.sh. Needs root.
set -euo pipefail
shopt -s inherit_errexit

# shellcheck source=hack/node/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"

T0=$(date +%s.%N)
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$T0" "$(date +%s.%N)"; }

[[ ${EUID} -eq 0 ]] || die "needs root (containerd, kubelet and iptables)"

ensure_packages() {
  # Debian packages the node needs; installed only when something is missing.
  local want=(containerd runc containernetworking-plugins iptables conntrack socat openssl iproute2 gcc libc6-dev debootstrap)
  local missing=() p
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
      || { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; }
  fi
}

check_prereqs() {
  load_toolchain
  local b
  for b in KUBELET_BIN KUBE_PROXY_BIN KUBECTL_BIN CONTAINERD_BIN CTR_BIN RUNC_BIN; do
    [[ -n "${!b}" && -x "${!b}" ]] || die "${b} not found (build the toolchain: make toolchain)"
  done
  [[ -x "${CNI_BIN_DIR}/bridge" && -x "${CNI_BIN_DIR}/host-local" && -x "${CNI_BIN_DIR}/loopback" ]] \
    || die "CNI plugins missing in ${CNI_BIN_DIR}"
  [[ -f "${ADMIN_KUBECONFIG}" ]] || die "no control plane: ${ADMIN_KUBECONFIG} missing (run hack/cluster-up.sh)"
  kctl get --raw /readyz >/dev/null || die "control plane not reachable with ${ADMIN_KUBECONFIG}"
  find_cluster_ca
}

find_cluster_ca() {
  # The cluster CA signs the node's client certificates; its certificate is
  # also the kubelet's client CA. Explicit paths win; else look where
  # hack/cluster-up.sh keeps its PKI.
  CLUSTER_CA="${BLUEGREEN_CLUSTER_CA:-}"
  CLUSTER_CA_KEY="${BLUEGREEN_CLUSTER_CA_KEY:-}"
  if [[ -z "${CLUSTER_CA}" ]]; then
    local d
    for d in "${CLUSTER_DIR}/pki" "${CLUSTER_DIR}/certs" "${CLUSTER_DIR}"; do
      if [[ -f "$d/ca.crt" && -f "$d/ca.key" ]]; then CLUSTER_CA="$d/ca.crt"; CLUSTER_CA_KEY="$d/ca.key"; break; fi
      if [[ -f "$d/ca.pem" && -f "$d/ca-key.pem" ]]; then CLUSTER_CA="$d/ca.pem"; CLUSTER_CA_KEY="$d/ca-key.pem"; break; fi
    done
  fi
  [[ -f "${CLUSTER_CA}" && -f "${CLUSTER_CA_KEY}" ]] \
    || die "cluster CA not found under ${CLUSTER_DIR} (set BLUEGREEN_CLUSTER_CA and BLUEGREEN_CLUSTER_CA_KEY)"
  APISERVER_URL="$(kctl config view --minify -o jsonpath='{.clusters[0].cluster.server}')"
  export CLUSTER_CA
}

save_sysctls() {
  # Only the first start of a node records them: a re-run must not save the
  # values this script or the kubelet already changed.
  [[ -s "${SAVED_SYSCTLS}" ]] && return
  local key value
  for key in "${TOUCHED_SYSCTLS[@]}"; do
    value="$(sysctl -n "${key}" 2>/dev/null)" || continue
    printf '%s = %s\n' "${key}" "${value}"
  done >"${SAVED_SYSCTLS}"
}

setup_host_network() {
  # Forwarding between the bridge and the host, and iptables on bridged
  # traffic: kube-proxy's DNAT must see pod-to-service packets on the bridge.
  sysctl -qw net.ipv4.ip_forward=1
  sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || {
    modprobe br_netfilter 2>/dev/null || true
    sysctl -qw net.bridge.bridge-nf-call-iptables=1
  }
  # The bridge is made here rather than by the CNI plugin at the first pod,
  # because it carries the node IP the kubelet binds before any pod exists.
  if ! ip link show "${BRIDGE}" >/dev/null 2>&1; then
    ip link add "${BRIDGE}" type bridge
  fi
  ip addr replace "${NODE_IP}/${POD_PREFIX_LEN}" dev "${BRIDGE}"
  ip link set "${BRIDGE}" up
  # Keep cluster addresses on this machine, whatever kube-proxy programs:
  # - Service IPs route to the bridge: kube-proxy's DNAT rewrites them to pod
  #   IPs first, and anything it does not rewrite finds no one there.
  # - The rest of the pod range (KWOK's fake pod IPs, other nodes) is a
  #   blackhole; this node's own /24 is more specific and reaches the bridge.
  # Without these, such packets would follow the default route off the machine.
  ip route replace "${SERVICE_CIDR}" dev "${BRIDGE}"
  ip route replace blackhole "${CLUSTER_CIDR}"
}

start_daemon() {
  # start_daemon NAME CMD...: detached from this shell (own session), so it
  # outlives the script; pid file and log under the node folder.
  local name="$1"; shift
  if pid_alive "${name}"; then
    log "${name} already running (pid $(cat "${PID_DIR}/${name}.pid"))"
    return
  fi
  setsid "$@" >>"${LOG_DIR}/${name}.log" 2>&1 </dev/null &
  echo $! >"${PID_DIR}/${name}.pid"
}

wait_for() {
  # wait_for DESCRIPTION TIMEOUT_S CMD...: poll a condition, fail with context.
  local what="$1" timeout="$2"; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out after ${timeout}s waiting for ${what}"
    sleep 0.5
  done
}

start_containerd() {
  mkdir -p "${CONTAINERD_ROOT}" "${CONTAINERD_STATE}" "${CNI_CONF_DIR}" "${CNI_IPAM_DIR}"
  render "${NODE_LIB_DIR}/containerd.toml.tmpl" "${NODE_DIR}/containerd/config.toml"
  start_daemon containerd "${CONTAINERD_BIN}" --config "${NODE_DIR}/containerd/config.toml"
  wait_for "containerd on ${CONTAINERD_SOCKET}" 60 "${CTR_BIN}" --address "${CONTAINERD_SOCKET}" version
  log "containerd up ($("${CTR_BIN}" --address "${CONTAINERD_SOCKET}" version | awk '/Version:/ {print $2}' | tail -1)) at +$(elapsed)s"
}

write_registry_hosts() {
  # containerd reads these at each pull: the local registry, plain HTTP.
  # shellcheck source=hack/registry/lib.sh
  source "${REPO_ROOT}/hack/registry/lib.sh"
  mkdir -p "${REGISTRY_HOSTS_DIR}/${REGISTRY}"
  cat >"${REGISTRY_HOSTS_DIR}/${REGISTRY}/hosts.toml" <<TOML
server = "http://${REGISTRY}"

[host."http://${REGISTRY}"]
  capabilities = ["pull", "resolve"]
TOML
}

start_apiserver_forwarder() {
  # NODE_IP:<API port> -> 127.0.0.1:<API port>, then the `kubernetes`
  # Service's endpoints. `exec -a` names the process, so pid_alive knows it.
  local port
  port="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.urlsplit(sys.argv[1]).port or 443)' "${APISERVER_URL}")"
  command -v socat >/dev/null || die "socat missing"
  start_daemon "${APISERVER_FORWARDER}" bash -c \
    "exec -a ${APISERVER_FORWARDER} socat TCP-LISTEN:${port},bind=${NODE_IP},reuseaddr,fork TCP:127.0.0.1:${port}"
  wait_for "API server forwarder on ${NODE_IP}:${port}" 30 \
    curl -fsk --max-time 2 -o /dev/null "https://${NODE_IP}:${port}/readyz"
  kctl apply -f - >/dev/null <<YAML
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${KUBERNETES_ENDPOINTSLICE}
  namespace: default
  labels:
    kubernetes.io/service-name: kubernetes
    endpointslice.kubernetes.io/managed-by: bluegreen.dev-real-node
    bluegreen.dev/real-node: "true"
addressType: IPv4
endpoints:
- addresses: ["${NODE_IP}"]
  conditions: {ready: true}
ports:
- {name: https, port: ${port}, protocol: TCP}
YAML
}

import_images() {
  CTR="${CTR_BIN}" "${REPO_ROOT}/hack/images/build-app-images.sh" --import "${CONTAINERD_SOCKET}" >/dev/null
  log "images imported at +$(elapsed)s"
}

write_cni_config() {
  # Pods reach only cluster addresses (pods and Services) through the
  # bridge; no default route, so nothing in a pod can reach beyond them.
  export POD_ROUTES="[{\"dst\": \"${CLUSTER_CIDR}\"}, {\"dst\": \"${SERVICE_CIDR}\"}]"
  mkdir -p "${CNI_CONF_DIR}" "${CNI_IPAM_DIR}"
  render "${NODE_LIB_DIR}/10-bluegreen.conflist.tmpl" "${CNI_CONF_DIR}/10-bluegreen.conflist"
  printf 'options ndots:1\n' >"${NODE_DIR}/resolv.conf"
}

issue_cert() {
  # issue_cert NAME CN ORG: a client certificate signed by the cluster CA, so
  # the node joins without the bootstrap-token dance.
  local name="$1" cn="$2" org="$3" dir="${NODE_DIR}/pki"
  mkdir -p "${dir}"
  if [[ -s "${dir}/${name}.crt" ]] && openssl verify -CAfile "${CLUSTER_CA}" "${dir}/${name}.crt" >/dev/null 2>&1; then
    return
  fi
  openssl req -new -newkey rsa:2048 -nodes -keyout "${dir}/${name}.key" -out "${dir}/${name}.csr" \
    -subj "/O=${org}/CN=${cn}" >/dev/null 2>&1
  openssl x509 -req -in "${dir}/${name}.csr" -CA "${CLUSTER_CA}" -CAkey "${CLUSTER_CA_KEY}" \
    -CAcreateserial -CAserial "${dir}/ca.srl" -days 30 -sha256 -out "${dir}/${name}.crt" \
    -extfile <(printf 'keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n') \
    >/dev/null 2>&1
  chmod 600 "${dir}/${name}.key"
}

write_kubeconfig() {
  local name="$1" user="$2" out="${NODE_DIR}/${1}.kubeconfig"
  cat >"${out}" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: ${APISERVER_URL}
    certificate-authority: ${CLUSTER_CA}
users:
- name: ${user}
  user:
    client-certificate: ${NODE_DIR}/pki/${name}.crt
    client-key: ${NODE_DIR}/pki/${name}.key
contexts:
- name: default
  context: {cluster: local, user: ${user}}
current-context: default
KCFG
  chmod 600 "${out}"
}

grant_rbac() {
  # RBAC alone (no Node authorizer needed): bind this node's identity to the
  # built-in system:node role, and to system:auth-delegator so the kubelet can
  # ask the API server who a caller is and what it may do (webhook authn/authz
  # of the kubelet API).
  kctl apply -f - >/dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: bluegreen:node:${NODE_NAME}
  labels: {bluegreen.dev/real-node: "true"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:node}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "system:node:${NODE_NAME}"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: bluegreen:node-auth-delegator:${NODE_NAME}
  labels: {bluegreen.dev/real-node: "true"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:auth-delegator}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "system:node:${NODE_NAME}"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: bluegreen:node-proxier:${NODE_NAME}
  labels: {bluegreen.dev/real-node: "true"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:node-proxier}
subjects:
- {apiGroup: rbac.authorization.k8s.io, kind: User, name: "system:kube-proxy"}
YAML
}

make_cgroup_root() {
  # The kubelet requires its cgroup root to exist in every v1 hierarchy.
  local h
  for h in /sys/fs/cgroup/*/; do
    h="${h%/}"
    [[ -f "${h}/cgroup.procs" && "${h}" != */unified ]] || continue
    mkdir -p "${h}/${CGROUP_ROOT_NAME}"
    if [[ -f "${h}/cpuset.cpus" ]]; then
      # A new cpuset is empty and accepts no task until it inherits these.
      [[ -n "$(cat "${h}/${CGROUP_ROOT_NAME}/cpuset.cpus")" ]] || cat "${h}/cpuset.cpus" >"${h}/${CGROUP_ROOT_NAME}/cpuset.cpus"
      [[ -n "$(cat "${h}/${CGROUP_ROOT_NAME}/cpuset.mems")" ]] || cat "${h}/cpuset.mems" >"${h}/${CGROUP_ROOT_NAME}/cpuset.mems"
    fi
  done
}

start_kubelet() {
  issue_cert kubelet "system:node:${NODE_NAME}" system:nodes
  write_kubeconfig kubelet "system:node:${NODE_NAME}"
  render "${NODE_LIB_DIR}/kubelet-config.yaml.tmpl" "${NODE_DIR}/kubelet-config.yaml"
  make_cgroup_root
  mkdir -p "${NODE_DIR}/kubelet" "${NODE_DIR}/pod-logs"
  start_daemon kubelet "${KUBELET_BIN}" \
    --config "${NODE_DIR}/kubelet-config.yaml" \
    --kubeconfig "${NODE_DIR}/kubelet.kubeconfig" \
    --root-dir "${NODE_DIR}/kubelet" \
    --cert-dir "${NODE_DIR}/kubelet/pki" \
    --hostname-override "${NODE_NAME}" \
    --node-ip "${NODE_IP}" \
    --node-labels "bluegreen.dev/real-node=true" \
    --v "${BLUEGREEN_NODE_LOG_LEVEL:-2}"
}

start_kube_proxy() {
  issue_cert kube-proxy system:kube-proxy system:node-proxier
  write_kubeconfig kube-proxy system:kube-proxy
  render "${NODE_LIB_DIR}/kube-proxy-config.yaml.tmpl" "${NODE_DIR}/kube-proxy-config.yaml"
  start_daemon kube-proxy "${KUBE_PROXY_BIN}" --config "${NODE_DIR}/kube-proxy-config.yaml" \
    --v "${BLUEGREEN_NODE_LOG_LEVEL:-2}"
}

node_ready() {
  [[ "$(kctl get node "${NODE_NAME}" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}

main() {
  ensure_packages
  check_prereqs
  mkdir -p "${PID_DIR}" "${LOG_DIR}"
  if pid_alive containerd && pid_alive kubelet && pid_alive kube-proxy && pid_alive "${APISERVER_FORWARDER}" \
     && node_ready \
     && curl -fsS --max-time 2 "http://127.0.0.1:${KUBELET_HEALTHZ_PORT}/healthz" >/dev/null 2>&1; then
    log "node ${NODE_NAME} already up and Ready"
    exit 0
  fi
  # Leftovers of a crashed run (dead pids, stale mounts) would confuse a new start.
  if [[ -d "${PID_DIR}" ]] && ! { pid_alive containerd || pid_alive kubelet || pid_alive kube-proxy \
       || pid_alive "${APISERVER_FORWARDER}"; } \
     && compgen -G "${PID_DIR}/*.pid" >/dev/null; then
    log "cleaning up a previous run that did not stop cleanly"
    BLUEGREEN_NODE_KEEP_LOGS=1 "${NODE_LIB_DIR}/node-down.sh"
    mkdir -p "${PID_DIR}" "${LOG_DIR}"
  fi
  export_render_vars
  save_sysctls
  setup_host_network
  write_cni_config
  write_registry_hosts
  start_containerd
  import_images
  grant_rbac
  start_kubelet
  start_kube_proxy
  start_apiserver_forwarder
  log "waiting for Node ${NODE_NAME} to be Ready"
  wait_for "Node ${NODE_NAME} Ready (see ${LOG_DIR}/kubelet.log)" "${BLUEGREEN_NODE_TIMEOUT:-180}" node_ready
  wait_for "kube-proxy healthz" 60 curl -fsS "http://127.0.0.1:${KUBE_PROXY_HEALTHZ_PORT}/healthz"
  local took; took="$(elapsed)"
  echo "${took}" >"${NODE_DIR}/startup-seconds"
  log "node ${NODE_NAME} Ready in ${took}s (pods ${POD_SUBNET} on ${BRIDGE}, node IP ${NODE_IP}, $(kctl get node "${NODE_NAME}" -o jsonpath='{.status.nodeInfo.containerRuntimeVersion}'))"
}

main "$@"
