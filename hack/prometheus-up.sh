#!/usr/bin/env bash
# Starts a real Prometheus for the local cluster, as a process on 127.0.0.1
# with its state beside the cluster's:
#
#   ${BLUEGREEN_CLUSTER_DIR}/prometheus/prometheus.yml   the configuration (rewritten each run)
#   ${BLUEGREEN_CLUSTER_DIR}/prometheus/data/            the TSDB (1 day of retention)
#   ${BLUEGREEN_CLUSTER_DIR}/prometheus/operators/       one JSON file per operator to scrape
#   ${BLUEGREEN_CLUSTER_DIR}/prometheus/env              BLUEGREEN_PROMETHEUS_URL=..., sourceable
#   ${BLUEGREEN_CLUSTER_DIR}/logs/prometheus.log, pids/prometheus.pid
#
# It scrapes:
#   - pods, found through Kubernetes service discovery with the cluster's admin
#     kubeconfig (kubernetes_sd_configs, kubeconfig_file): those annotated
#     prometheus.io/scrape: "true" (prometheus.io/port and prometheus.io/path
#     say where), at their pod IP, which this machine reaches for pods of the
#     real node (hack/node/). Series carry namespace, pod, release and revision
#     (from the bluegreen.dev/release and bluegreen.dev/revision pod labels).
#   - the operator's own /metrics: 127.0.0.1:9090 (`make run`'s default), and
#     every target listed in operators/*.json (file_sd: the demo and the tests
#     drop a file there naming the port their operator listens on).
#
# The server is built from Prometheus' Go module by hack/build-prometheus.sh
# (cached; Debian's package leaves Kubernetes service discovery out), or named
# by BLUEGREEN_PROMETHEUS_BIN. BLUEGREEN_PROMETHEUS_PORT (9190) and
# BLUEGREEN_PROMETHEUS_SCRAPE_INTERVAL (2s: metric checks in tests judge
# windows of tens of seconds) set the rest.
# Running it again rewrites the configuration and reloads a running
# Prometheus (SIGHUP) instead of starting a second one. Stop it with
# hack/prometheus-down.sh (hack/cluster-down.sh does too).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${BLUEGREEN_CLUSTER_DIR:-${repo}/.cluster}"
port="${BLUEGREEN_PROMETHEUS_PORT:-9190}"
interval="${BLUEGREEN_PROMETHEUS_SCRAPE_INTERVAL:-2s}"
dir="${state}/prometheus"
pids="${state}/pids"
logs="${state}/logs"
kubeconfig="${state}/kubeconfig"
url="http://127.0.0.1:${port}"

log() { printf '[prometheus] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ -f "${kubeconfig}" ]] || die "no cluster: ${kubeconfig} is missing (make cluster)"
bin="${BLUEGREEN_PROMETHEUS_BIN:-}"
[[ -n "${bin}" ]] || bin="$("${repo}/hack/build-prometheus.sh")"
[[ -x "${bin}" ]] || die "no Prometheus server at ${bin}"
state="$(cd "${state}" && pwd)"
dir="${state}/prometheus"
pids="${state}/pids"
logs="${state}/logs"
kubeconfig="${state}/kubeconfig"
mkdir -p "${dir}/data" "${dir}/operators" "${pids}" "${logs}"

# alive: the pid file names a process still running this Prometheus binary on
# this configuration (pids are reused; never signal a stranger).
alive() {
  local pid
  [[ -f "${pids}/prometheus.pid" ]] || return 1
  pid="$(cat "${pids}/prometheus.pid")"
  [[ -n "${pid}" && -r "/proc/${pid}/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/${pid}/cmdline" | grep -q -- "--config.file=${dir}/prometheus.yml "
}
ready() { curl -fsS --max-time 2 "${url}/-/ready" -o /dev/null 2>/dev/null; }
# When the server last loaded its configuration successfully (its own metric;
# a refused file keeps the old configuration and does not move it).
loaded_at() {
  curl -fsS --max-time 2 "${url}/metrics" 2>/dev/null |
    awk '/^prometheus_config_last_reload_success_timestamp_seconds /{print $2}'
}

cat >"${dir}/prometheus.yml.new" <<YAML
# Written by hack/prometheus-up.sh; edits are overwritten.
global:
  scrape_interval: ${interval}
  scrape_timeout: ${interval}
  evaluation_interval: ${interval}
scrape_configs:
  - job_name: pods
    kubernetes_sd_configs:
      - role: pod
        kubeconfig_file: ${kubeconfig}
    relabel_configs:
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape]
        regex: "true"
        action: keep
      - source_labels: [__meta_kubernetes_pod_phase]
        regex: Running
        action: keep
      - source_labels: [__meta_kubernetes_pod_ip]
        regex: .+
        action: keep
      - source_labels: [__meta_kubernetes_pod_ip, __meta_kubernetes_pod_annotation_prometheus_io_port]
        regex: (.+);(\d+)
        replacement: \$1:\$2
        target_label: __address__
      - source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_path]
        regex: (.+)
        target_label: __metrics_path__
      - source_labels: [__meta_kubernetes_namespace]
        target_label: namespace
      - source_labels: [__meta_kubernetes_pod_name]
        target_label: pod
      - source_labels: [__meta_kubernetes_pod_node_name]
        target_label: node
      - source_labels: [__meta_kubernetes_pod_label_bluegreen_dev_release]
        target_label: release
      - source_labels: [__meta_kubernetes_pod_label_bluegreen_dev_revision]
        target_label: revision
  - job_name: bluegreen-operator
    static_configs:
      - targets: ["127.0.0.1:9090"]
    file_sd_configs:
      - files: ["${dir}/operators/*.json"]
        refresh_interval: 5s
YAML
mv "${dir}/prometheus.yml.new" "${dir}/prometheus.yml"
echo "BLUEGREEN_PROMETHEUS_URL=${url}" >"${dir}/env"

before=""
if alive; then
  before="$(loaded_at)"
  kill -HUP "$(cat "${pids}/prometheus.pid")"
  log "already running; reloading the configuration: ${url}"
else
  if (exec 3<>"/dev/tcp/127.0.0.1/${port}") 2>/dev/null; then
    die "port ${port} on 127.0.0.1 is in use; set BLUEGREEN_PROMETHEUS_PORT"
  fi
  # Detached from this shell (its own session, no stdio of ours, no inherited
  # lock descriptor): callers that capture our output return at once.
  setsid "${bin}" \
    --config.file="${dir}/prometheus.yml" \
    --storage.tsdb.path="${dir}/data" \
    --storage.tsdb.retention.time=1d \
    --web.listen-address="127.0.0.1:${port}" \
    --query.timeout=30s \
    --log.level=warn \
    </dev/null >"${logs}/prometheus.log" 2>&1 8>&- &
  echo $! >"${pids}/prometheus.pid"
fi
for _ in $(seq 1 100); do
  ready && break
  alive || { tail -n 20 "${logs}/prometheus.log" >&2; die "prometheus exited; log: ${logs}/prometheus.log"; }
  sleep 0.2
done
ready || die "prometheus not ready within 20s; log: ${logs}/prometheus.log"
loaded() { local now; now="$(loaded_at)"; [[ -n "${now}" && "${now}" != "${before}" ]]; }
for _ in $(seq 1 50); do
  loaded && break
  sleep 0.2
done
loaded || die "prometheus did not load ${dir}/prometheus.yml; log: ${logs}/prometheus.log"
log "ready: ${url} (scraping every ${interval}; export BLUEGREEN_PROMETHEUS_URL=${url})"
