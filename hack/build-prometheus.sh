#!/usr/bin/env bash
# Builds the Prometheus server from its Go module, with Kubernetes service
# discovery, into ${BLUEGREEN_CACHE:-~/.cache/bluegreen-operator}/prometheus/<version>/
# and prints the binary's path. A second run is a no-op.
#
# Why not Debian's package alone: Debian builds Prometheus without Kubernetes
# service discovery ("removed, due to the insane amount of dependencies in
# their client library", /usr/share/doc/prometheus/NEWS.Debian.gz), and the
# local cluster's Prometheus finds pods through it. Debian's package still
# gives promtool, which checks the configuration.
#
# The build keeps only the discovery mechanisms we use (build tags
# remove_all_sd + enable_kubernetes_sd; static, file and http discovery are
# always in): a few minutes on two cores instead of every cloud SDK. The web
# UI's assets are not embedded (they need an npm build); the HTTP API, which
# is all the operator and the tests use, is complete.
set -euo pipefail

version="${BLUEGREEN_PROMETHEUS_MODULE_VERSION:-v0.316.0}"
cache_root="${BLUEGREEN_CACHE:-${HOME}/.cache/bluegreen-operator}"
out="${cache_root}/prometheus/${version}"
bin="${out}/bin/prometheus"

log() { printf '[build-prometheus] %s\n' "$*" >&2; }

if [[ -x "${bin}" ]] && "${bin}" --version >/dev/null 2>&1; then
  echo "${bin}"
  exit 0
fi
command -v go >/dev/null || { log "Go is required on PATH"; exit 1; }
mkdir -p "${out}"
exec 9>"${out}/.lock"
flock 9
if [[ -x "${bin}" ]] && "${bin}" --version >/dev/null 2>&1; then
  echo "${bin}"  # another run built it while we waited for the lock
  exit 0
fi
log "building github.com/prometheus/prometheus/cmd/prometheus@${version} (a few minutes, once)"
started=${SECONDS}
# The module's VERSION file names the release (3.16.0 for v0.316.0); upstream
# stamps it into the binary with these flags.
go mod download "github.com/prometheus/prometheus@${version}"
moddir="$(go list -m -f '{{.Dir}}' "github.com/prometheus/prometheus@${version}" 2>/dev/null ||
  echo "$(go env GOMODCACHE)/github.com/prometheus/prometheus@${version}")"
release="$(cat "${moddir}/VERSION" 2>/dev/null || echo "${version#v}")"
common="github.com/prometheus/common/version"
GOBIN="${out}/bin.tmp" CGO_ENABLED=0 go install -trimpath \
  -tags "remove_all_sd,enable_kubernetes_sd,netgo" \
  -ldflags "-s -w -X ${common}.Version=${release} -X ${common}.Branch=module -X ${common}.Revision=${version}" \
  "github.com/prometheus/prometheus/cmd/prometheus@${version}"
mkdir -p "${out}/bin"
mv "${out}/bin.tmp/prometheus" "${bin}"
rmdir "${out}/bin.tmp"
log "built Prometheus ${release} in $((SECONDS - started))s: ${bin}"
echo "${bin}"
