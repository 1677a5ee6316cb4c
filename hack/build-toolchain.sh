#!/usr/bin/env bash
# Builds, from Go modules only, every binary the local cluster, the tests and
# the demo need, and caches them outside the repository in a folder keyed by
# hack/versions.env (see hack/toolchain-env.sh for the location):
#
#   <toolchain>/bin/{terraform,etcd,kwok,kube-apiserver,kube-controller-manager,
#                    kube-scheduler,kubectl,kubelet,kube-proxy}
#   <toolchain>/terraform-mirror/registry.terraform.io/hashicorp/kubernetes/
#                    <version>/linux_amd64/terraform-provider-kubernetes_v<version>
#   <toolchain>/terraformrc           CLI config: offline install from that mirror
#   <toolchain>/kwok-stages/stock/    KWOK's stock stages, taken from its module
#   <toolchain>/.terraform-ready      Terraform and the provider are usable
#   <toolchain>/.ready                everything is built
#   <toolchain>/build-times.txt       seconds per step, for hack/CLUSTER_FIGURES.md
#
# Order matters: Terraform comes first because other work only waits on it;
# Kubernetes (15-25 min on 2 cores) comes last. A second run is a no-op: each
# step checks that its outputs exist. Upstream source and binaries never enter
# the repository; wrapper modules live under <toolchain>/build/.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091 # plain KEY=value pins, checked by hand
source "${repo}/hack/versions.env"
eval "$("${repo}/hack/toolchain-env.sh")"
tc="${BLUEGREEN_TOOLCHAIN_DIR}"
bin="${tc}/bin"
work="${tc}/build"

log() { printf '[toolchain %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

k8s_bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy)
all_bins=(terraform etcd kwok "${k8s_bins[@]}")
tf_provider_path="${tc}/terraform-mirror/registry.terraform.io/hashicorp/kubernetes/${TF_PROVIDER_KUBERNETES_VERSION}/linux_amd64/terraform-provider-kubernetes_v${TF_PROVIDER_KUBERNETES_VERSION}"
stock_stages=(
  node/fast/node-initialize.yaml
  node/heartbeat-with-lease/node-heartbeat-with-lease.yaml
  pod/fast/pod-ready.yaml
  pod/fast/pod-complete.yaml
  pod/fast/pod-delete.yaml
)

have_all() {
  local f
  for f in "$@"; do [[ -x "${f}" || -f "${f}" ]] || return 1; done
}

all_done() {
  local b
  [[ -f "${tc}/.ready" ]] || return 1
  for b in "${all_bins[@]}"; do [[ -x "${bin}/${b}" ]] || return 1; done
  [[ -x "${tf_provider_path}" && -f "${tc}/terraformrc" ]] || return 1
  [[ -f "${tc}/kwok-stages/stock/pod-delete.yaml" ]]
}

# Fast path without taking the lock: the common case in `make test`.
if all_done; then
  log "up to date: ${tc}"
  exit 0
fi

command -v go >/dev/null || { echo "go is required (Go >= 1.26)" >&2; exit 1; }

mkdir -p "${bin}" "${work}"
# One build at a time per toolchain folder: `make toolchain` from two shells
# must not race on the same outputs; the second waits, then finds a no-op.
exec 9>"${tc}/.lock"
if ! flock -n 9; then
  log "another build holds ${tc}/.lock; waiting for it"
  flock 9
fi
if all_done; then
  log "up to date: ${tc}"
  exit 0
fi

# Static, reproducible builds like upstream's release builds. GOTOOLCHAIN=local:
# never try to download another Go (only the module proxy is reachable).
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-buildvcs=false"
export GOBIN="${work}/gobin"

timed() {
  local name="$1"; shift
  local t0=${SECONDS}
  "$@"
  local dt=$((SECONDS - t0))
  printf '%s %s\n' "${name}" "${dt}" >>"${tc}/build-times.txt"
  log "${name}: ${dt}s"
}

# Installs one binary to bin/ atomically, so an interrupted build never leaves
# a truncated file that a later run would take as done.
place() {
  install -m 0755 "$1" "$2.tmp.$$"
  mv -f "$2.tmp.$$" "$2"
}

# Prints the `go` and `godebug` lines of an upstream go.mod, so the wrapper
# compiles with the language version and GODEBUG defaults upstream chose.
upstream_header() {
  grep -E '^(go|godebug) ' "$1"
}

mod_file() { # module@version -> path of its .mod in the module cache
  go mod download -json "$1" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p'
}
mod_dir() { # module@version -> path of its unpacked source in the module cache
  go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'
}

build_terraform() {
  have_all "${bin}/terraform" && return 0
  log "terraform ${TERRAFORM_VERSION}"
  go install -trimpath -ldflags "-s -w" "github.com/hashicorp/terraform@${TERRAFORM_VERSION}"
  place "${GOBIN}/terraform" "${bin}/terraform"
}

build_tf_provider() {
  if ! have_all "${tf_provider_path}"; then
    log "terraform-provider-kubernetes ${TF_PROVIDER_KUBERNETES_VERSION} (${TF_PROVIDER_KUBERNETES_MODULE_VERSION})"
    go install -trimpath -ldflags "-s -w" \
      "github.com/hashicorp/terraform-provider-kubernetes@${TF_PROVIDER_KUBERNETES_MODULE_VERSION}"
    mkdir -p "$(dirname "${tf_provider_path}")"
    place "${GOBIN}/terraform-provider-kubernetes" "${tf_provider_path}"
  fi
  # An unpacked filesystem mirror works offline with any backend (dev_overrides
  # does not); only the mirror is consulted, so nothing is fetched from a registry.
  cat >"${tc}/terraformrc.tmp" <<RC
provider_installation {
  filesystem_mirror {
    path    = "${tc}/terraform-mirror"
    include = ["registry.terraform.io/*/*"]
  }
}
RC
  mv -f "${tc}/terraformrc.tmp" "${tc}/terraformrc"
}

build_etcd() {
  have_all "${bin}/etcd" && return 0
  log "etcd ${ETCD_VERSION}"
  # etcd's server go.mod replaces its sibling modules with ../ paths, so
  # `go install ...@version` refuses it; a wrapper module requiring the
  # published siblings builds the same code.
  local w="${work}/etcd" upstream
  mkdir -p "${w}"
  upstream="$(mod_file "go.etcd.io/etcd/server/v3@${ETCD_VERSION}")"
  {
    echo "module bluegreen.local/toolchain/etcd"
    echo
    upstream_header "${upstream}"
  } >"${w}/go.mod"
  (
    cd "${w}"
    go get "go.etcd.io/etcd/server/v3@${ETCD_VERSION}"
    go build -trimpath -ldflags "-s -w" -o "${w}/etcd" go.etcd.io/etcd/server/v3
  )
  place "${w}/etcd" "${bin}/etcd"
}

build_kwok() {
  if ! have_all "${bin}/kwok"; then
    log "kwok ${KWOK_VERSION}"
    go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"
    place "${GOBIN}/kwok" "${bin}/kwok"
  fi
  # kwok ships no built-in stages: copy the stock ones from its module (never
  # into the repository) so cluster-up does not depend on the module cache.
  local src s
  src="$(mod_dir "sigs.k8s.io/kwok@${KWOK_VERSION}")/kustomize/stage"
  mkdir -p "${tc}/kwok-stages/stock"
  for s in "${stock_stages[@]}"; do
    install -m 0644 "${src}/${s}" "${tc}/kwok-stages/stock/$(basename "${s}")"
  done
}

build_kubernetes() {
  local b missing=0
  for b in "${k8s_bins[@]}"; do have_all "${bin}/${b}" || missing=1; done
  [[ ${missing} == 1 ]] || return 0
  log "kubernetes ${KUBERNETES_VERSION}: ${k8s_bins[*]} (15-25 min on 2 cores)"
  # k8s.io/kubernetes maps every staging module to ./staging/src/...; the
  # wrapper replaces each with its published release, derived from the
  # upstream go.mod so a version bump needs no hand-kept list.
  local w="${work}/kubernetes" upstream staging m minor pkgs=() ldflags=""
  mkdir -p "${w}/out"
  upstream="$(mod_file "k8s.io/kubernetes@${KUBERNETES_VERSION}")"
  mapfile -t staging < <(sed -n 's#^[[:space:]]*\(k8s.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/.*#\1#p' "${upstream}" | sort -u)
  if [[ ${#staging[@]} -lt 20 ]]; then
    echo "found only ${#staging[@]} staging replaces in ${upstream}; the wrapper would be wrong" >&2
    exit 1
  fi
  {
    echo "module bluegreen.local/toolchain/kubernetes"
    echo
    upstream_header "${upstream}"
    echo
    echo "require k8s.io/kubernetes ${KUBERNETES_VERSION}"
    echo
    echo "replace ("
    for m in "${staging[@]}"; do echo "	${m} => ${m} ${KUBERNETES_STAGING_VERSION}"; done
    echo ")"
  } >"${w}/go.mod"
  for b in "${k8s_bins[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/${b}"); done
  # Without these the binaries report v0.0.0-master, which breaks version
  # skew checks and confuses clients.
  minor="${KUBERNETES_VERSION#v1.}"; minor="${minor%%.*}"
  for m in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X ${m}.gitVersion=${KUBERNETES_VERSION} -X ${m}.gitMajor=1 -X ${m}.gitMinor=${minor} -X ${m}.gitTreeState=clean"
  done
  (
    cd "${w}"
    local p
    for p in "${pkgs[@]}"; do go get "${p}@${KUBERNETES_VERSION}"; done
    # One invocation for all commands: shared packages compile once.
    go build -trimpath -tags selinux,notest -ldflags "-s -w${ldflags}" -o "${w}/out/" "${pkgs[@]}"
  )
  for b in "${k8s_bins[@]}"; do place "${w}/out/${b}" "${bin}/${b}"; done
}

log "toolchain folder: ${tc}"
t_start=${SECONDS}
timed terraform build_terraform
timed terraform-provider-kubernetes build_tf_provider
date -u +%FT%TZ >"${tc}/.terraform-ready"
timed etcd build_etcd
timed kwok build_kwok
timed kubernetes build_kubernetes
printf 'total %s\n' "$((SECONDS - t_start))" >>"${tc}/build-times.txt"
{
  grep -E '^[A-Z0-9_]+=' "${repo}/hack/versions.env"
  echo "GO=$(go env GOVERSION)"
  echo "BUILT=$(date -u +%FT%TZ)"
} >"${tc}/.ready"
"${bin}/kube-apiserver" --version >&2
# sed, not head: head exits after one line and etcd, still writing, dies of SIGPIPE (pipefail).
"${bin}/etcd" --version | sed -n 1p >&2
"${bin}/terraform" version >&2
log "ready: ${tc} ($((SECONDS - t_start))s)"
