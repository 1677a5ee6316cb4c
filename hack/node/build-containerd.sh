#!/usr/bin/env bash
# Optional: build containerd 2.x (containerd, ctr, containerd-shim-runc-v2)
# from its Go module into ${BLUEGREEN_CACHE}/containerd/<version>/bin, for
# kubelets that need a runtime implementing the RuntimeConfig CRI call.
# Kubernetes 1.36 still falls back to its own cgroupDriver setting with
# Debian's containerd 1.6, so hack/node/node-up.sh uses Debian's by default;
# after this build, `BLUEGREEN_CONTAINERD=<version> hack/node/node-up.sh`
# uses this one instead. A second run is a no-op.
set -euo pipefail

VERSION="${1:-${BLUEGREEN_CONTAINERD_VERSION:-v2.2.9}}"
CACHE_ROOT="${BLUEGREEN_CACHE:-${HOME}/.cache/bluegreen-operator}"
OUT="${CACHE_ROOT}/containerd/${VERSION}/bin"
MODULE="github.com/containerd/containerd/v2"

if [[ -x "${OUT}/containerd" && -x "${OUT}/ctr" && -x "${OUT}/containerd-shim-runc-v2" ]]; then
  echo "${OUT}"
  exit 0
fi
mkdir -p "${OUT}"
start=${SECONDS}
# Static, cgo-free binaries like upstream's static release; the build tags drop
# the snapshotters this machine cannot use anyway (btrfs, devmapper, zfs).
CGO_ENABLED=0 GOBIN="${OUT}" nice go install -trimpath \
  -tags "no_btrfs no_devmapper no_zfs netgo osusergo static_build" \
  -ldflags "-s -w -X ${MODULE}/version.Version=${VERSION}" \
  "${MODULE}/cmd/containerd@${VERSION}" \
  "${MODULE}/cmd/ctr@${VERSION}" \
  "${MODULE}/cmd/containerd-shim-runc-v2@${VERSION}"
printf '[containerd] built %s in %ss\n' "${VERSION}" "$((SECONDS - start))" >&2
echo "${OUT}"
