#!/usr/bin/env bash
# Builds the Argo Rollouts controller, for the comparison benchmark
# (bench/compare/argo_rollouts.py), from its Go module with this machine's Go,
# and caches it outside the repository:
#
#   <cache>/rollouts-controller   the binary
#   <cache>/module/               the wrapper module as built (go.mod, go.sum)
#   <cache>/.built                the wrapper go.mod's sha256 and the build time
#   <cache>/build.log             the last build's output
#
# <cache> is ${BLUEGREEN_CACHE:-~/.cache/bluegreen-operator}/argo-rollouts.
# A second run is a no-op while the committed wrapper go.mod is unchanged.
#
# argo-rollouts' own go.mod pins k8s.io/* and a few forks through `replace`,
# which `go install ...@version` refuses; the wrapper module
# (bench/compare/argo-rollouts/go.mod) requires the release and repeats that
# replace block. `--regenerate` rewrites the wrapper's go.mod from the
# upstream go.mod in the module cache (for a version bump: edit `version`
# below, run with --regenerate, commit the go.mod). Upstream source and the
# binary never enter the repository; neither does this module enter CI.
set -euo pipefail

version="v1.10.1"
module="github.com/argoproj/argo-rollouts"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
wrapper="${repo}/bench/compare/argo-rollouts/go.mod"
cache="${BLUEGREEN_CACHE:-${HOME}/.cache/bluegreen-operator}/argo-rollouts"
bin="${cache}/rollouts-controller"

log() { printf '[argo-rollouts %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

command -v go >/dev/null || { echo "go is required (Go >= 1.26)" >&2; exit 1; }
# Never download another Go: only the module proxy is reachable.
export GOTOOLCHAIN=local CGO_ENABLED=0

upstream_mod() {
  go mod download -json "${module}@${version}" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p'
}

# The `go`/`godebug` lines and the replace block of upstream's go.mod.
upstream_header() { grep -E '^(go|godebug) ' "$1"; }
upstream_replace() { sed -n '/^replace (/,/^)/p' "$1"; }

regenerate() {
  local up
  up="$(upstream_mod)"
  [[ -f "${up}" ]] || { echo "no go.mod for ${module}@${version} in the module cache" >&2; exit 1; }
  if [[ "$(upstream_replace "${up}" | wc -l)" -lt 10 ]]; then
    echo "the replace block of ${up} looks wrong; refusing to write the wrapper" >&2
    exit 1
  fi
  {
    echo "// Wrapper module that builds the Argo Rollouts controller for the comparison"
    echo "// benchmark; written by bench/compare/build-argo-rollouts.sh --regenerate."
    echo "// Not part of the project's build or CI."
    echo "module bluegreen.local/bench/argo-rollouts"
    echo
    upstream_header "${up}"
    echo
    echo "require ${module} ${version}"
    echo
    echo "// Copied from ${module}@${version}'s go.mod."
    upstream_replace "${up}"
  } >"${wrapper}.tmp"
  mv -f "${wrapper}.tmp" "${wrapper}"
  log "wrote ${wrapper}"
}

if [[ "${1:-}" == "--regenerate" ]]; then
  regenerate
fi

stamp="$(sha256sum "${wrapper}" | cut -c1-64)"
if [[ -x "${bin}" && -f "${cache}/.built" ]] && grep -qx "wrapper ${stamp}" "${cache}/.built"; then
  log "up to date: ${bin}"
  exit 0
fi

mkdir -p "${cache}/module"
exec 9>"${cache}/.lock"
if ! flock -n 9; then
  log "another build holds ${cache}/.lock; waiting for it"
  flock 9
fi
if [[ -x "${bin}" && -f "${cache}/.built" ]] && grep -qx "wrapper ${stamp}" "${cache}/.built"; then
  log "up to date: ${bin}"
  exit 0
fi

# The committed wrapper must still carry upstream's replace block verbatim:
# a drift would build a controller against other client-go versions.
up="$(upstream_mod)"
if ! diff <(upstream_replace "${up}") <(upstream_replace "${wrapper}") >/dev/null; then
  echo "${wrapper}: replace block differs from ${up}; run $0 --regenerate" >&2
  exit 1
fi

# Build in a copy, so go.sum and the requirements `-mod=mod` adds stay in the
# cache, not in the repository.
work="${cache}/module"
cp -f "${wrapper}" "${work}/go.mod"
log "building ${module}@${version} rollouts-controller with $(go env GOVERSION) (minutes; log: ${cache}/build.log)"
t0=${SECONDS}
(
  cd "${work}"
  # Link flags as upstream's Makefile sets them, so the controller reports its release.
  go build -mod=mod -trimpath -buildvcs=false \
    -ldflags "-s -w -X ${module}/utils/version.version=${version#v} -X ${module}/utils/version.buildDate=$(date -u +%FT%TZ) -X ${module}/utils/version.gitTreeState=clean -X ${module}/utils/version.gitTag=${version}" \
    -o "${bin}.tmp.$$" "${module}/cmd/rollouts-controller" 2>&1 | tee "${cache}/build.log" >&2
)
mv -f "${bin}.tmp.$$" "${bin}"
dt=$((SECONDS - t0))
printf 'wrapper %s\nversion %s\ngo %s\nseconds %s\nbuilt %s\n' \
  "${stamp}" "${version}" "$(go env GOVERSION)" "${dt}" "$(date -u +%FT%TZ)" >"${cache}/.built"
log "built ${bin} in ${dt}s"
"${bin}" --version >&2 || true
