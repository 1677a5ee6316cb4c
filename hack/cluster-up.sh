#!/usr/bin/env bash
# Starts a real local Kubernetes control plane from the cached toolchain
# (hack/build-toolchain.sh): etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and KWOK, which plays the kubelet for fake nodes. Deployments,
# ReplicaSets, scheduling, EndpointSlices, garbage collection, RBAC, admission
# and CRD validation are all the real thing; only containers are simulated.
#
# State lives in $BLUEGREEN_CLUSTER_DIR (default <repo>/.cluster):
#   kubeconfig        admin kubeconfig (system:masters), certificates embedded
#   pki/              CA, serving and client certificates, service-account keys
#   logs/<name>.log   one log per component
#   pids/<name>.pid   what hack/cluster-down.sh stops
#   etcd/             etcd data
#   env               the ports this cluster uses, sourceable
#
# Running it again while the cluster is healthy is a no-op; a half-dead
# cluster is stopped and started afresh. Ports come from the environment so
# that two clusters (two state folders) can run side by side:
#   BLUEGREEN_ETCD_PORT (2379), BLUEGREEN_ETCD_PEER_PORT (2380),
#   BLUEGREEN_APISERVER_PORT (6443), BLUEGREEN_CONTROLLER_MANAGER_PORT (10257),
#   BLUEGREEN_SCHEDULER_PORT (10259), BLUEGREEN_KWOK_NODES (3).
# BLUEGREEN_REAL_NODE=1 adds the real node, BLUEGREEN_PROMETHEUS=1 Prometheus.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
eval "$("${repo}/hack/toolchain-env.sh")"
tc="${BLUEGREEN_TOOLCHAIN_DIR}"
bin="${tc}/bin"

state="${BLUEGREEN_CLUSTER_DIR:-${repo}/.cluster}"
mkdir -p "${state}"
state="$(cd "${state}" && pwd)"

etcd_port="${BLUEGREEN_ETCD_PORT:-2379}"
etcd_peer_port="${BLUEGREEN_ETCD_PEER_PORT:-2380}"
api_port="${BLUEGREEN_APISERVER_PORT:-6443}"
kcm_port="${BLUEGREEN_CONTROLLER_MANAGER_PORT:-10257}"
sched_port="${BLUEGREEN_SCHEDULER_PORT:-10259}"
node_count="${BLUEGREEN_KWOK_NODES:-3}"
# Addresses outside 10/8, 172.16/12 and 192.168/16: traffic towards private
# ranges is flagged on the machines this runs on. 198.18.0.0/15 is reserved for
# benchmarking (RFC 2544) and never routed, so nothing real can be hit.
service_cidr="${BLUEGREEN_SERVICE_CIDR:-198.19.0.0/16}"
pod_cidr="${BLUEGREEN_POD_CIDR:-198.18.0.0/17}"
node_ip="${BLUEGREEN_NODE_IP:-198.18.128.1}"
# The first address of the service range is the `kubernetes` Service.
service_net="${service_cidr%/*}"
api_service_ip="${service_net%.*}.$((${service_net##*.} + 1))"

pki="${state}/pki"
logs="${state}/logs"
pids="${state}/pids"
kubeconfig="${state}/kubeconfig"
components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

t_start=${SECONDS}
log() { printf '[cluster %s +%ss] %s\n' "$(date -u +%H:%M:%S)" "$((SECONDS - t_start))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for b in etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok; do
  [[ -x "${bin}/${b}" ]] || die "${bin}/${b} missing: run 'make toolchain' (hack/build-toolchain.sh) first"
done
[[ -f "${tc}/kwok-stages/stock/pod-delete.yaml" ]] || die "KWOK stock stages missing in ${tc}: run 'make toolchain'"
command -v openssl >/dev/null || die "openssl is required (apt-get install openssl)"
command -v curl >/dev/null || die "curl is required (apt-get install curl)"

# One cluster-up at a time per state folder (parallel test sessions).
exec 8>"${state}/.lock"
flock 8

# A pid file names a live process of ours only if that pid still runs the
# binary we started (pids are reused).
alive() {
  local name="$1" pid
  [[ -f "${pids}/${name}.pid" ]] || return 1
  pid="$(cat "${pids}/${name}.pid")"
  [[ -n "${pid}" && -r "/proc/${pid}/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/${pid}/cmdline" | grep -q -- "${bin}/${name} "
}

api_ready() {
  curl -fsS --max-time 2 --cacert "${pki}/ca.crt" --cert "${pki}/admin.crt" --key "${pki}/admin.key" \
    "https://127.0.0.1:${api_port}/readyz" >/dev/null 2>&1
}

all_running() {
  local c
  for c in "${components[@]}"; do alive "${c}" || return 1; done
  [[ -f "${kubeconfig}" ]] && api_ready
}

processes_alive() {
  local c
  for c in "${components[@]}"; do alive "${c}" || return 1; done
}

# Every process alive but the API server not answering: it is restarting (or
# busy), not half-started. Wait for it rather than tear a live cluster down.
if processes_alive && [[ -f "${kubeconfig}" ]] && ! api_ready; then
  log "the API server of the running cluster is not ready; waiting up to 90s"
  for _ in $(seq 1 180); do
    api_ready && break
    sleep 0.5
  done
fi
if all_running; then
  log "already running: KUBECONFIG=${kubeconfig}"
  if [[ "${BLUEGREEN_REAL_NODE:-0}" == "1" ]]; then
    "${repo}/hack/node/node-up.sh" 8>&-  # its daemons must not inherit our lock
  fi
  if [[ "${BLUEGREEN_PROMETHEUS:-0}" == "1" ]]; then
    "${repo}/hack/prometheus-up.sh" 8>&-
  fi
  exit 0
fi
if compgen -G "${pids}/*.pid" >/dev/null; then
  log "found a partial cluster in ${state}; stopping it and starting afresh"
  "${repo}/hack/cluster-down.sh"
  mkdir -p "${state}"
  exec 8>"${state}/.lock"
  flock 8
fi

# Refuse early, with a clear message, when another cluster holds our ports.
for p in "${etcd_port}" "${etcd_peer_port}" "${api_port}" "${kcm_port}" "${sched_port}"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/${p}") 2>/dev/null; then
    die "port ${p} on 127.0.0.1 is in use; set the BLUEGREEN_*_PORT variables (see the header of $0)"
  fi
done

rm -rf "${pki}" "${logs}" "${pids}" "${state}/etcd" "${state}/kwok" "${kubeconfig}"
mkdir -p "${pki}" "${logs}" "${pids}" "${state}/kwok"
# Marks the folder as ours, so cluster-down may delete it whole.
touch "${state}/.bluegreen-cluster"

# --- certificates -----------------------------------------------------------
# EC P-256 keys: generated in milliseconds, accepted by every component.
newkey() { openssl ecparam -name prime256v1 -genkey -noout -out "$1" 2>/dev/null; }

newkey "${pki}/ca.key"
openssl req -x509 -new -key "${pki}/ca.key" -days 3650 -subj "/CN=bluegreen-local-ca" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
  -out "${pki}/ca.crt" 2>/dev/null

# sign NAME SUBJECT EXTENDED_KEY_USAGE [SUBJECT_ALT_NAMES]
sign() {
  local name="$1" subj="$2" eku="$3" san="${4:-}" ext
  newkey "${pki}/${name}.key"
  ext="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=${eku}"
  [[ -n "${san}" ]] && ext+="
subjectAltName=${san}"
  openssl req -new -key "${pki}/${name}.key" -subj "${subj}" 2>/dev/null |
    openssl x509 -req -CA "${pki}/ca.crt" -CAkey "${pki}/ca.key" -CAcreateserial -days 3650 \
      -extfile <(printf '%s\n' "${ext}") -out "${pki}/${name}.crt" 2>/dev/null
}

sign apiserver "/CN=kube-apiserver" serverAuth \
  "IP:127.0.0.1,IP:${api_service_ip},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
sign admin "/O=system:masters/CN=bluegreen-admin" clientAuth
sign kube-controller-manager "/CN=system:kube-controller-manager" clientAuth
sign kube-scheduler "/CN=system:kube-scheduler" clientAuth
# KWOK acts as the kubelet of every fake node: it updates node and pod status
# and node leases across the cluster, which no built-in node role allows.
sign kwok "/O=system:masters/CN=kwok" clientAuth
# Identity of the API server towards aggregated API servers (metrics-server
# and the like); also gives every component a complete
# extension-apiserver-authentication ConfigMap instead of warnings.
sign front-proxy-client "/CN=front-proxy-client" clientAuth
# Service-account tokens are signed with RSA, the algorithm every client expects.
openssl genrsa -out "${pki}/sa.key" 2048 2>/dev/null
openssl rsa -in "${pki}/sa.key" -pubout -out "${pki}/sa.pub" 2>/dev/null
chmod 0600 "${pki}"/*.key

# write_kubeconfig FILE USER: certificates embedded so the file stands alone.
write_kubeconfig() {
  local file="$1" user="$2"
  cat >"${file}" <<KC
apiVersion: v1
kind: Config
clusters:
- name: bluegreen-local
  cluster:
    server: https://127.0.0.1:${api_port}
    certificate-authority-data: $(base64 -w0 "${pki}/ca.crt")
users:
- name: ${user}
  user:
    client-certificate-data: $(base64 -w0 "${pki}/${user}.crt")
    client-key-data: $(base64 -w0 "${pki}/${user}.key")
contexts:
- name: bluegreen-local
  context: {cluster: bluegreen-local, user: ${user}}
current-context: bluegreen-local
KC
  chmod 0600 "${file}"
}
write_kubeconfig "${pki}/kube-controller-manager.kubeconfig" kube-controller-manager
write_kubeconfig "${pki}/kube-scheduler.kubeconfig" kube-scheduler
write_kubeconfig "${pki}/kwok.kubeconfig" kwok
log "certificates ready"

# --- processes --------------------------------------------------------------
# start NAME ARGS...: runs the toolchain binary detached from this shell (its
# own session, no stdin/stdout of ours: pytest's subprocess returns at once)
# and records its pid for cluster-down.
start() {
  local name="$1"; shift
  # 8>&-: the daemons must not inherit the lock, or they would hold it forever.
  setsid "${bin}/${name}" "$@" </dev/null >"${logs}/${name}.log" 2>&1 8>&- &
  echo $! >"${pids}/${name}.pid"
}

# wait_for WHAT SECONDS CMD...: polls until CMD succeeds; on timeout shows the
# end of the logs so a failure explains itself.
wait_for() {
  local what="$1" secs="$2"; shift 2
  local deadline=$((SECONDS + secs)) c
  until "$@"; do
    for c in "${components[@]}"; do
      if [[ -f "${pids}/${c}.pid" ]] && ! alive "${c}"; then
        tail -n 30 "${logs}/${c}.log" >&2 || true
        die "${c} exited while waiting for ${what}; log: ${logs}/${c}.log"
      fi
    done
    if ((SECONDS >= deadline)); then
      for c in "${components[@]}"; do
        [[ -f "${logs}/${c}.log" ]] && { echo "--- ${c}" >&2; tail -n 15 "${logs}/${c}.log" >&2; }
      done
      die "timed out after ${secs}s waiting for ${what}"
    fi
    sleep 0.3
  done
}

# Stop what we started if anything below fails, so no half cluster lingers.
trap 'rc=$?; if ((rc != 0)); then log "start failed; stopping"; "${repo}/hack/cluster-down.sh" --keep-state >&2 || true; fi' EXIT

# etcd: fsync off, because test clusters are thrown away and fsync dominates
# latency on small disks.
start etcd \
  --name=bluegreen-local \
  --data-dir="${state}/etcd" \
  --listen-client-urls="http://127.0.0.1:${etcd_port}" \
  --advertise-client-urls="http://127.0.0.1:${etcd_port}" \
  --listen-peer-urls="http://127.0.0.1:${etcd_peer_port}" \
  --initial-advertise-peer-urls="http://127.0.0.1:${etcd_peer_port}" \
  --initial-cluster="bluegreen-local=http://127.0.0.1:${etcd_peer_port}" \
  --listen-metrics-urls="" \
  --unsafe-no-fsync=true \
  --quota-backend-bytes=$((2 * 1024 * 1024 * 1024)) \
  --log-level=warn
etcd_ready() { curl -fsS --max-time 2 "http://127.0.0.1:${etcd_port}/health" -o /dev/null 2>/dev/null; }
wait_for etcd 30 etcd_ready
log "etcd up on 127.0.0.1:${etcd_port}"

# The audit log: who made which request, as the API server saw it. The
# benchmarks count the operator's requests from it (by user agent); the
# cluster's own components and KWOK are left out to keep it small.
cat > "${state}/audit-policy.yaml" <<'POLICY'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: None
    users: ["kwok", "system:kube-controller-manager", "system:kube-scheduler", "system:apiserver", "system:kube-proxy"]
  - level: None
    userGroups: ["system:nodes"]
  - level: Metadata
POLICY

# kube-apiserver. --endpoint-reconciler-type=none: with a loopback advertise
# address the default reconciler would publish 127.0.0.1 as the `kubernetes`
# Service endpoint, which is invalid. Node authorizer and NodeRestriction as in
# real clusters, for kubelets joining with system:node credentials; KWOK is in
# system:masters and unaffected. Other admission plugins are the defaults.
start kube-apiserver \
  --bind-address=127.0.0.1 \
  --advertise-address=127.0.0.1 \
  --secure-port="${api_port}" \
  --etcd-servers="http://127.0.0.1:${etcd_port}" \
  --tls-cert-file="${pki}/apiserver.crt" \
  --tls-private-key-file="${pki}/apiserver.key" \
  --client-ca-file="${pki}/ca.crt" \
  --authorization-mode=Node,RBAC \
  --enable-admission-plugins=NodeRestriction \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="${pki}/sa.pub" \
  --service-account-signing-key-file="${pki}/sa.key" \
  --service-cluster-ip-range="${service_cidr}" \
  --endpoint-reconciler-type=none \
  --requestheader-client-ca-file="${pki}/ca.crt" \
  --requestheader-allowed-names=front-proxy-client \
  --requestheader-username-headers=X-Remote-User \
  --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --proxy-client-cert-file="${pki}/front-proxy-client.crt" \
  --proxy-client-key-file="${pki}/front-proxy-client.key" \
  --allow-privileged=true \
  --kubelet-preferred-address-types=InternalIP \
  --kubelet-client-certificate="${pki}/admin.crt" \
  --kubelet-client-key="${pki}/admin.key" \
  --profiling=false \
  --audit-policy-file="${state}/audit-policy.yaml" \
  --audit-log-path="${state}/audit.log" \
  --audit-log-format=json \
  --audit-log-mode=batch \
  --audit-log-maxsize=200 \
  --audit-log-maxbackup=2 \
  --v=1
wait_for kube-apiserver 60 api_ready
write_kubeconfig "${kubeconfig}" admin
log "kube-apiserver ready on https://127.0.0.1:${api_port}"

# kube-controller-manager: all default controllers (deployment, replicaset,
# endpointslice, garbagecollector, serviceaccount and its token controller,
# job, namespace...), each with its own service account so RBAC applies to it
# as in a real cluster. No leader election: one instance per cluster, and it
# would only delay the start.
start kube-controller-manager \
  --kubeconfig="${pki}/kube-controller-manager.kubeconfig" \
  --authentication-kubeconfig="${pki}/kube-controller-manager.kubeconfig" \
  --authorization-kubeconfig="${pki}/kube-controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 \
  --secure-port="${kcm_port}" \
  --controllers='*' \
  --use-service-account-credentials=true \
  --service-account-private-key-file="${pki}/sa.key" \
  --root-ca-file="${pki}/ca.crt" \
  --cluster-signing-cert-file="${pki}/ca.crt" \
  --cluster-signing-key-file="${pki}/ca.key" \
  --service-cluster-ip-range="${service_cidr}" \
  --leader-elect=false \
  --profiling=false \
  --v=1

start kube-scheduler \
  --kubeconfig="${pki}/kube-scheduler.kubeconfig" \
  --authentication-kubeconfig="${pki}/kube-scheduler.kubeconfig" \
  --authorization-kubeconfig="${pki}/kube-scheduler.kubeconfig" \
  --bind-address=127.0.0.1 \
  --secure-port="${sched_port}" \
  --leader-elect=false \
  --profiling=false \
  --v=1

# kwok: stock stages first, then the project's (hack/kwok/), which win by
# weight for the pods they select.
kwok_config=()
for f in "${tc}"/kwok-stages/stock/*.yaml "${repo}"/hack/kwok/*.yaml; do
  kwok_config+=("--config=${f}")
done
start kwok \
  --kubeconfig="${pki}/kwok.kubeconfig" \
  "${kwok_config[@]}" \
  --manage-all-nodes=false \
  --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --cidr="${pod_cidr}" \
  --node-ip="${node_ip}" \
  --node-lease-duration-seconds=40

k() { "${bin}/kubectl" --kubeconfig="${kubeconfig}" "$@"; }

k create namespace bluegreen-system >/dev/null

# Fake nodes: the annotation hands them to KWOK. No taint: workloads made by
# the operator must land on them without tolerations.
nodes_yaml="${state}/kwok/nodes.yaml"
: >"${nodes_yaml}"
for i in $(seq 0 $((node_count - 1))); do
  cat >>"${nodes_yaml}" <<NODE
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-${i}
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: kwok-node-${i}
    node-role.kubernetes.io/agent: ""
    type: kwok
    topology.kubernetes.io/zone: zone-${i}
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110"}
NODE
done
k apply -f "${nodes_yaml}" >/dev/null

nodes_ready() {
  local n
  n="$(k get nodes -l type=kwok -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null | grep -c '^True$' || true)"
  ((n == node_count))
}
wait_for "${node_count} Ready KWOK nodes" 60 nodes_ready
log "${node_count} KWOK nodes Ready"

sa_ready() { k get serviceaccount default -n default >/dev/null 2>&1 && k get serviceaccount default -n bluegreen-system >/dev/null 2>&1; }
wait_for "default ServiceAccounts" 60 sa_ready

# A server-side dry run goes through admission (ServiceAccount plugin included)
# and storage validation: the cluster accepts workloads.
dry_run() { k create deployment readiness-probe --image=registry.invalid/probe:1 --dry-run=server -o name >/dev/null 2>&1; }
wait_for "a server-side dry run" 30 dry_run

cat >"${state}/env" <<ENV
BLUEGREEN_ETCD_PORT=${etcd_port}
BLUEGREEN_ETCD_PEER_PORT=${etcd_peer_port}
BLUEGREEN_APISERVER_PORT=${api_port}
BLUEGREEN_CONTROLLER_MANAGER_PORT=${kcm_port}
BLUEGREEN_SCHEDULER_PORT=${sched_port}
KUBECONFIG=${kubeconfig}
ENV
trap - EXIT
log "cluster ready in $((SECONDS - t_start))s: export KUBECONFIG=${kubeconfig}"

# The real node (kubelet, containerd, kube-proxy) is opt-in: it needs root and
# changes the machine's network and sysctls. See docs/real-node.md.
if [[ "${BLUEGREEN_REAL_NODE:-0}" == "1" ]]; then
  "${repo}/hack/node/node-up.sh" 8>&-  # its daemons must not inherit our lock
fi
# Prometheus (hack/prometheus-up.sh) is opt-in too: metric checks of releases
# on the real node query it. See docs/kpi-checks.md.
if [[ "${BLUEGREEN_PROMETHEUS:-0}" == "1" ]]; then
  "${repo}/hack/prometheus-up.sh" 8>&-
fi
