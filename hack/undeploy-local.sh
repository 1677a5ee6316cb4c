#!/usr/bin/env bash
# `make undeploy`: uninstall the operator from the local cluster in the order
# docs/install.md gives, so that no finalizer is left without its operator:
#   1. delete every BlueGreenRelease while the operator still runs (it cleans
#      up after each one: Deployments, Jobs, Services through terraform
#      destroy, the Terraform state) and wait until they are gone;
#   2. kubectl delete -k deploy/local/: the CRD, RBAC, the Deployment and the
#      namespace bluegreen-system.
# USE_CURRENT_CONTEXT=1: the cluster kubectl points at, not .cluster/.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo}"
eval "$(hack/toolchain-env.sh)"
if [[ "${USE_CURRENT_CONTEXT:-0}" != 1 ]]; then
  export KUBECONFIG="${BLUEGREEN_CLUSTER_DIR:-${repo}/.cluster}/kubeconfig"
fi
timeout="${BLUEGREEN_UNDEPLOY_TIMEOUT:-10m}"

if kubectl get crd bluegreenreleases.bluegreen.dev >/dev/null 2>&1; then
  kubectl delete bluegreenreleases --all --all-namespaces --wait=true --timeout="${timeout}"
fi
kubectl delete -k deploy/local/ --ignore-not-found --wait=true --timeout="${timeout}"
echo "uninstalled: no BlueGreenRelease, CRD, RBAC or bluegreen-system left" >&2
