#!/usr/bin/env bash
# The main job: a full blue/green release, v1 then v2, printing each phase and
# the switch. By default on the project's own local cluster (started here if
# needed); with USE_CURRENT_CONTEXT=1 on whatever cluster kubectl points at.
#
# On the local cluster's KWOK nodes pods run no containers, so the smoke checks
# call the real demo app (app/) running as local processes, v1 and v2; when the
# real node is up (BLUEGREEN_REAL_NODE=1), pods really run and the checks and
# the printed responses go through the Services themselves.
#
# IN_CLUSTER=1: the operator runs as users run it, as pods on the real node
# installed with `kubectl apply -k deploy/local/` from the image `make image`
# built and pushed to the local registry; the app images come from there too
# (app/Dockerfile, imagePullPolicy: IfNotPresent). The installed operator
# watches the demo's namespace only, and is uninstalled at the end in the
# documented order (DEMO_KEEP_OPERATOR=1 keeps it).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo}"
eval "$(hack/toolchain-env.sh)"
py="${repo}/.venv/bin/python"
name="${DEMO_RELEASE:-shop}"
ns="${DEMO_NAMESPACE:-bluegreen-demo}"
hold="${DEMO_HOLD_SECONDS:-15}"
infra="${DEMO_INFRASTRUCTURE:-terraform}"
work="$(mktemp -d)"
pids=()

say() { printf '\033[1m[demo %s]\033[0m %s\n' "$(date +%H:%M:%S)" "$*"; }
prom_target=""
cleanup() {
  [[ -z "${prom_target}" ]] || rm -f "${prom_target}"
  for pid in "${pids[@]}"; do kill "${pid}" 2>/dev/null || true; done
  rm -rf "${work}"
}
trap cleanup EXIT

# The real node is the default where it can run (root on Linux): it makes pods
# really serve, so the v1 and v2 messages come back from the Service itself.
if [[ -z "${BLUEGREEN_REAL_NODE:-}" && "${USE_CURRENT_CONTEXT:-0}" != "1" && "$(id -u)" == "0" ]]; then
  export BLUEGREEN_REAL_NODE=1
fi
in_cluster="${IN_CLUSTER:-0}"
if [[ "${in_cluster}" == 1 && "${USE_CURRENT_CONTEXT:-0}" == 1 ]]; then
  echo "IN_CLUSTER=1 runs on the local cluster only (its registry and real node)" >&2
  exit 2
fi
if [[ "${USE_CURRENT_CONTEXT:-0}" == "1" ]]; then
  say "using the current kube context: $(kubectl config current-context)"
else
  # Prometheus beside the cluster (hack/prometheus-up.sh, docs/kpi-checks.md): it
  # scrapes the operator, and metric checks query it. BLUEGREEN_PROMETHEUS=0: none.
  BLUEGREEN_PROMETHEUS="${BLUEGREEN_PROMETHEUS:-1}" hack/cluster-up.sh
  export KUBECONFIG="${BLUEGREEN_CLUSTER_DIR:-${repo}/.cluster}/kubeconfig"
fi
if [[ "${in_cluster}" == 1 ]]; then
  say "IN_CLUSTER=1: images (make image), the real node (make node), then kubectl apply -k deploy/local/"
  hack/images/build-images.sh
  hack/node/node-up.sh
fi
real_node=0
if [[ "${BLUEGREEN_REAL_NODE:-0}" == "1" ]] && kubectl get nodes -l bluegreen.dev/real-node=true -o name | grep -q .; then
  real_node=1
fi
pull_policy=Never
image_ref() { echo "spacelift-app:$1"; }
if [[ "${in_cluster}" == 1 ]]; then
  # shellcheck source=hack/registry/lib.sh
  source hack/registry/lib.sh
  pull_policy=IfNotPresent
  # app/Dockerfile's images from the registry, pinned to what was just pushed
  # (a rebuild keeps the tag; IfNotPresent would keep the old one).
  image_ref() { echo "${REGISTRY}/bluegreen-demo:$1@$(registry_digest bluegreen-demo "$1")"; }
fi

if [[ "${in_cluster}" != 1 ]]; then
  say "installing the BlueGreenRelease CRD"
  kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
  kubectl wait --for=condition=Established --timeout=60s crd/bluegreenreleases.bluegreen.dev >/dev/null
  kubectl create namespace bluegreen-system --dry-run=client -o yaml | kubectl apply -f - >/dev/null
fi
kubectl create namespace "${ns}" --dry-run=client -o yaml | kubectl apply -f - >/dev/null

free_port() { "${py}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
declare -A app_url
if ((real_node)); then
  say "real node present: checks go through the preview Service"
else
  for version in v1 v2; do
    port="$(free_port)"
    APP_VERSION="${version}" "${py}" app/app.py --port "${port}" >"${work}/app-${version}.log" 2>&1 &
    pids+=($!)
    app_url[${version}]="http://127.0.0.1:${port}"
  done
  say "KWOK nodes run no containers: smoke checks call the real app, v1 at ${app_url[v1]}, v2 at ${app_url[v2]}"
fi

operator_log() { tail -20 "${work}/operator.log"; }
if [[ "${in_cluster}" == 1 ]]; then
  say "installing the operator: kubectl apply -k deploy/local/ (watching ${ns} only)"
  BLUEGREEN_WATCH_NAMESPACES="${ns}" hack/deploy-local.sh >/dev/null
  operator_log() { kubectl logs -n bluegreen-system deployment/bluegreen-operator --tail=20 || true; }
else
  say "starting the operator (infrastructure: ${infra}); log: ${work}/operator.log"
  metrics_port="$(free_port)"
  prom_args=()
  prom_dir="${BLUEGREEN_CLUSTER_DIR:-${repo}/.cluster}/prometheus"
  if [[ "${USE_CURRENT_CONTEXT:-0}" != "1" && -f "${prom_dir}/env" ]]; then
    prom_args=(--prometheus-url "$(sed -n 's/^BLUEGREEN_PROMETHEUS_URL=//p' "${prom_dir}/env")")
    prom_target="${prom_dir}/operators/demo-${ns}.json"
    echo "[{\"targets\": [\"127.0.0.1:${metrics_port}\"]}]" >"${prom_target}"
    say "Prometheus: ${prom_args[1]} (scrapes this operator on :${metrics_port})"
  fi
  "${py}" -m bluegreen --namespace "${ns}" --infrastructure "${infra}" \
    --metrics-port "${metrics_port}" --liveness-port "$(free_port)" "${prom_args[@]}" \
    --check-allowed-hosts 127.0.0.1 \
    --terraform-work-dir "${work}/tf" >"${work}/operator.log" 2>&1 &
  pids+=($!)
fi

manifest() { # version expected-body
  local version="$1" body="$2" check
  if ((real_node)); then
    # Through the preview Service: kube-proxy may program the candidate's
    # endpoints a few seconds after the pods are ready on a busy node.
    check="{name: home, http: {path: /, expectBody: \"${body}\", attempts: 5}}"
  else
    check="{name: home, http: {url: \"${app_url[${version}]}\", path: /, expectBody: \"${body}\"}}"
  fi
  local placement=""
  if ((real_node)); then
    placement="
      nodeSelector: {bluegreen.dev/real-node: \"true\"}
      tolerations: [{key: bluegreen.dev/real-node, operator: Exists, effect: NoSchedule}]"
  fi
  cat <<YAML
apiVersion: bluegreen.dev/v1alpha1
kind: BlueGreenRelease
metadata: {name: ${name}, namespace: ${ns}}
spec:
  replicas: 3
  template:
    spec:${placement}
      containers:
      - name: app
        image: $(image_ref "${version}")
        imagePullPolicy: ${pull_policy}
        ports: [{containerPort: 5000}]
        env: [{name: APP_VERSION, value: ${version}}]
        readinessProbe: {httpGet: {path: /healthz, port: 5000}, periodSeconds: 1}
  service: {name: ${name}, type: ClusterIP, port: 80, targetPort: 5000}
  previewService: {name: ${name}-preview}
  checks:
    readiness: {timeoutSeconds: 120}
    smoke: [${check}]
  hold: {seconds: ${hold}}
YAML
}

follow() { # print each phase change until Ready, fail on Stalled
  local last="" line phase ready stalled
  for _ in $(seq 1 600); do
    line="$(kubectl get bgr "${name}" -n "${ns}" -o jsonpath='{.status.phase}|{.status.message}' 2>/dev/null || true)"
    phase="${line%%|*}"
    if [[ -n "${phase}" && "${phase}" != "${last}" ]]; then
      say "phase ${phase}: ${line#*|}"
      last="${phase}"
    fi
    ready="$(kubectl get bgr "${name}" -n "${ns}" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null || true)"
    stalled="$(kubectl get bgr "${name}" -n "${ns}" -o jsonpath='{.status.conditions[?(@.type=="Stalled")].status}' 2>/dev/null || true)"
    [[ "${ready}" == "True" ]] && return 0
    if [[ "${stalled}" == "True" ]]; then say "stalled"; operator_log; return 1; fi
    sleep 0.5
  done
  say "timed out"; return 1
}

show_traffic() {
  local selector
  selector="$(kubectl get svc "${name}" -n "${ns}" -o jsonpath='{.spec.selector}')"
  say "stable Service ${name} selects ${selector}"
  if ((real_node)); then
    ip="$(kubectl get svc "${name}" -n "${ns}" -o jsonpath='{.spec.clusterIP}')"
    say "GET http://${ip}/ -> $(curl -s --max-time 3 "http://${ip}/" || echo unreachable)"
  fi
}

for version in v1 v2; do
  body="V${version#v}"
  say "applying ${name} ${version}"
  manifest "${version}" "${body}" | kubectl apply -f - >/dev/null
  follow
  show_traffic
done

say "release history:"
"${repo}/.venv/bin/kubectl-bluegreen" history "${name}" -n "${ns}" || true
say "events:"
kubectl get events -n "${ns}" --field-selector "involvedObject.kind=BlueGreenRelease" \
  --sort-by=.lastTimestamp -o custom-columns=TYPE:.type,REASON:.reason,MESSAGE:.message
if [[ "${in_cluster}" == 1 && "${DEMO_KEEP_OPERATOR:-0}" != 1 ]]; then
  say "uninstalling in the documented order: the releases (the operator finalizes them), then kubectl delete -k"
  kubectl delete bgr "${name}" -n "${ns}" --wait=true --timeout=5m >/dev/null
  kubectl delete -k deploy/local/ --wait=true --timeout=5m >/dev/null
  say "uninstalled: $(kubectl get crd bluegreenreleases.bluegreen.dev -o name 2>/dev/null || echo 'no CRD left'), $(kubectl get ns bluegreen-system -o name 2>/dev/null || echo 'no bluegreen-system left')"
fi
say "done. The cluster stays up: KUBECONFIG=${KUBECONFIG:-} kubectl get bgr -n ${ns}; stop it with make cluster-down"
