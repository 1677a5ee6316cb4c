#!/usr/bin/env bash
# `make deploy`: install the operator on the local cluster the way users
# install it on theirs,
#   kubectl apply -k deploy/local/
# (manifests/ with the local registry's image and the real node's placement;
# the image pinned to the digest just pushed), then wait until every replica is Ready on the real node and one of them holds
# the Lease. Prints the time from `kubectl apply` to Ready.
#
# Needs the cluster and the real node (`make node`) and the image in the local
# registry (`make image`).
#   BLUEGREEN_WATCH_NAMESPACES=a,b  watch only these namespaces (a kustomization
#       on top of deploy/local/ sets BLUEGREEN_NAMESPACES): for a cluster whose
#       other namespaces have operators of their own, e.g. other test sessions.
#   BLUEGREEN_OPERATOR_TAG=T        the image tag to install (default: the version);
#       applied over a running install, this is an upgrade
#   USE_CURRENT_CONTEXT=1           the cluster kubectl points at, not .cluster/
set -euo pipefail
shopt -s inherit_errexit

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo}"
eval "$(hack/toolchain-env.sh)"
# shellcheck source=hack/registry/lib.sh
source hack/registry/lib.sh
if [[ "${USE_CURRENT_CONTEXT:-0}" != 1 ]]; then
  export KUBECONFIG="${BLUEGREEN_CLUSTER_DIR:-${repo}/.cluster}/kubeconfig"
fi
ns=bluegreen-system
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -1)"
tag="${BLUEGREEN_OPERATOR_TAG:-${version}}"
timeout_s="${BLUEGREEN_DEPLOY_TIMEOUT:-300}"

say() { printf '[deploy %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }
now() { date +%s.%N; }
since() { python3 -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.1f}")' "$1" "$(now)"; }

# The tag is the version, and a rebuild keeps it: with IfNotPresent the node
# would go on running the image it pulled first. So the install names the
# tag and the digest the registry holds now (name:tag@digest, the digest wins),
# as a release pipeline pins what it pushed.
digest="$(registry_digest bluegreen-operator "${tag}" || true)"
[[ -n "${digest}" ]] || die "${REGISTRY}/bluegreen-operator:${tag} not in the local registry: run 'make image'"
kubectl get nodes -l bluegreen.dev/real-node=true -o name | grep -q . \
  || die "no real node in the cluster: run 'make node'"

# deploy/local/ plus the digest (and the watched namespaces, if asked), in a
# kustomization of its own: kustomize takes relative paths only.
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
base="$(python3 -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "${repo}/deploy/local" "${work}")"
cat >"${work}/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ${base}
images:
  - name: ${REGISTRY}/bluegreen-operator
    newTag: "${tag}@${digest}"
YAML
if [[ -n "${BLUEGREEN_WATCH_NAMESPACES:-}" ]]; then
  cat >>"${work}/kustomization.yaml" <<YAML
patches:
  - patch: |-
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: bluegreen-operator, namespace: ${ns}}
      spec:
        template:
          spec:
            containers:
              - name: operator
                env:
                  - {name: BLUEGREEN_NAMESPACES, value: "${BLUEGREEN_WATCH_NAMESPACES}"}
YAML
  say "watching only: ${BLUEGREEN_WATCH_NAMESPACES}"
fi
dir="${work}"

t0="$(now)"
kubectl apply -k "${dir}" >&2
kubectl rollout status deployment/bluegreen-operator -n "${ns}" --timeout="${timeout_s}s" >&2
ready="$(since "${t0}")"
# The operator is working once a replica of this rollout holds the Lease: not
# a replica of the previous one still shutting down (deletionTimestamp set).
current_pods() {
  kubectl get pods -n "${ns}" -l app.kubernetes.io/name=bluegreen-operator -o json \
    | jq -r '.items[] | select(.metadata.deletionTimestamp == null) | .metadata.name'
}
deadline=$((SECONDS + 120))
until holder="$(kubectl get lease bluegreen-operator -n "${ns}" -o jsonpath='{.spec.holderIdentity}' 2>/dev/null)" \
    && [[ -n "${holder}" ]] && current_pods | grep -qx -- "${holder%_*}"; do
  ((SECONDS < deadline)) || die "no replica of this rollout took the Lease within 120s (holder: ${holder:-none})"
  sleep 0.5
done
say "operator Ready ${ready}s after kubectl apply -k; leader ${holder%_*} after $(since "${t0}")s"
kubectl get pods -n "${ns}" -l app.kubernetes.io/name=bluegreen-operator -o wide >&2
echo "${ready}"
