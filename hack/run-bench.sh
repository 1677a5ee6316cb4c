#!/usr/bin/env bash
# The body of `make bench`: starts the local cluster when none is healthy in
# $BLUEGREEN_CLUSTER_DIR (default <repo>/.cluster), runs the benchmarks in
# bench/ against it, writes BENCHMARKS.md, and stops the cluster again if it
# started it here (BLUEGREEN_KEEP_CLUSTER=1 keeps it). Extra arguments go to
# `python -m bench` (e.g. --changes 60, --only latency).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo}"
eval "$(hack/toolchain-env.sh)"
python="${repo}/.venv/bin/python"
[[ -x "${python}" ]] || { echo "missing ${python}: run 'make venv'" >&2; exit 1; }

export BLUEGREEN_CLUSTER_DIR="${BLUEGREEN_CLUSTER_DIR:-${repo}/.cluster}"
kubeconfig="${BLUEGREEN_CLUSTER_DIR}/kubeconfig"
export KUBECONFIG="${kubeconfig}"

healthy() {
  [[ -f "${kubeconfig}" ]] && kubectl --kubeconfig="${kubeconfig}" get --raw=/readyz --request-timeout=5s >/dev/null 2>&1
}

started_here=0
if ! healthy; then
  hack/cluster-up.sh
  started_here=1
fi
stop() {
  if ((started_here)) && [[ "${BLUEGREEN_KEEP_CLUSTER:-0}" != "1" ]]; then
    hack/cluster-down.sh || true
  fi
}
trap stop EXIT

"${python}" -m bench "$@"
