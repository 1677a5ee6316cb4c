#!/usr/bin/env bash
# Assemble locally the base images the Dockerfiles name by default
# (python:3.11-slim-bookworm, golang:<version>-bookworm), because no remote
# image can be pulled here. Each is a Debian bookworm minbase root filesystem
# made by debootstrap from Debian's own packages, committed into the project's
# buildah storage:
#
#   localhost/bluegreen-base/python:3.11-bookworm
#       Debian's python3 (3.11) with venv and pip, `python` on PATH and no
#       EXTERNALLY-MANAGED marker: what the official python image offers.
#   localhost/bluegreen-base/golang:<version>-bookworm
#       the Go distribution at /usr/local/go, the version the Dockerfile's
#       GO_IMAGE default names (the host's own GOROOT when it is that version,
#       else the toolchain module from the Go proxy), GOPATH=/go.
#
# Prints the two image names, one per line. Cached: a base is rebuilt only
# when its recipe changes (a label on the image records the recipe's hash),
# and the debootstrap output is kept as a tarball under the cache folder.
set -euo pipefail
shopt -s inherit_errexit

# shellcheck source=hack/images/buildah-env.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/buildah-env.sh"

SUITE=bookworm
MIRROR="${BLUEGREEN_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
ROOTFS_DIR="${CACHE_ROOT}/images"
DEB_CACHE="${CACHE_ROOT}/images/debs"
# Bump when the way a base is made changes, so stale images are not reused.
BASE_RECIPE_VERSION=1
PYTHON_PACKAGES="ca-certificates,python3,python3-venv,python3-pip,python-is-python3"
GOLANG_PACKAGES="ca-certificates"
RECIPE_LABEL="dev.bluegreen.base-recipe"

[[ ${EUID} -eq 0 ]] || die "debootstrap needs root"

recipe_key() { # packages extra
  printf '%s|%s|%s|%s|%s' "${SUITE}" "$1" "${BASE_RECIPE_VERSION}" "$(uname -m)" "${2:-}" \
    | sha256sum | cut -c1-16
}

current() { # image key: the image exists and was made by this recipe
  local label
  label="$(bah inspect --type image --format "{{ index .OCIv1.Config.Labels \"${RECIPE_LABEL}\" }}" "$1" 2>/dev/null)" \
    || return 1
  [[ "${label}" == "$2" ]]
}

rootfs_tar() { # name packages key -> path of a reproducible tarball of the root filesystem
  local name="$1" packages="$2" key="$3" out tmp
  out="${ROOTFS_DIR}/rootfs-${name}-${key}.tar"
  if [[ -s "${out}" ]]; then
    echo "${out}"
    return
  fi
  command -v debootstrap >/dev/null || die "debootstrap missing (hack/install-system-deps.sh)"
  mkdir -p "${ROOTFS_DIR}" "${DEB_CACHE}"
  tmp="$(mktemp -d "${ROOTFS_DIR}/.rootfs.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: the trap must remove this very directory
  trap "rm -rf '${tmp}'" EXIT
  log "debootstrap ${SUITE} minbase + ${packages} (a few minutes, cached afterwards)"
  debootstrap --variant=minbase --cache-dir="${DEB_CACHE}" --include="${packages}" \
    "${SUITE}" "${tmp}/rootfs" "${MIRROR}" >"${tmp}/debootstrap.log" 2>&1 \
    || { tail -30 "${tmp}/debootstrap.log" >&2; exit 1; }
  # What a container never needs: package caches and indexes, docs, logs, and
  # the device nodes debootstrap made (the runtime mounts its own /dev).
  rm -rf "${tmp}/rootfs"/var/cache/apt/archives/*.deb "${tmp}/rootfs"/var/lib/apt/lists/* \
    "${tmp}/rootfs"/usr/share/doc/* "${tmp}/rootfs"/usr/share/man/* "${tmp}/rootfs"/usr/share/info/* \
    "${tmp}/rootfs"/var/log/*.log "${tmp}/rootfs"/dev/* "${tmp}/rootfs"/proc/* "${tmp}/rootfs"/sys/*
  tar --sort=name --numeric-owner --mtime='@0' --xattrs --xattrs-include='security.capability' \
    -C "${tmp}/rootfs" -cf "${tmp}/rootfs.tar" .
  mv "${tmp}/rootfs.tar" "${out}"
  rm -rf "${tmp}"
  trap - EXIT
  echo "${out}"
}

python_base() {
  local image="localhost/bluegreen-base/python:3.11-${SUITE}" key tar ctr
  key="$(recipe_key "${PYTHON_PACKAGES}")"
  if current "${image}" "${key}"; then echo "${image}"; return; fi
  tar="$(rootfs_tar python "${PYTHON_PACKAGES}" "${key}")"
  ctr="$(bah from --pull-never scratch)"
  bah add --quiet "${ctr}" "${tar}" / >/dev/null
  # Debian marks its interpreter as managed by apt (PEP 668); the official
  # image's interpreter is not, and `pip install` in a Dockerfile relies on it.
  bah run --network none "${ctr}" -- rm -f /usr/lib/python3.11/EXTERNALLY-MANAGED
  bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 --cmd python3 --label "${RECIPE_LABEL}=${key}" \
    --created-by "debootstrap --variant=minbase ${SUITE} ${PYTHON_PACKAGES}" "${ctr}"
  bah commit --quiet --rm "${ctr}" "${image}" >/dev/null
  log "base ${image} ready"
  echo "${image}"
}

golang_base() {
  local version goroot image key tar ctr
  # golang:1.26.8-bookworm -> 1.26.8: the Dockerfile's default is the one pin.
  version="$(dockerfile_arg "${REPO_ROOT}/Dockerfile" GO_IMAGE)"
  version="${version#golang:}"
  version="${version%%-*}"
  [[ -n "${version}" ]] || die "no GO_IMAGE default in Dockerfile"
  image="localhost/bluegreen-base/golang:${version}-${SUITE}"
  key="$(recipe_key "${GOLANG_PACKAGES}" "go${version}")"
  if current "${image}" "${key}"; then echo "${image}"; return; fi
  # The host's Go when it is that version, else the toolchain module of that
  # version from the Go proxy (GOTOOLCHAIN fetches and verifies it).
  goroot="$(GOTOOLCHAIN="go${version}" go env GOROOT)"
  [[ "$(head -1 "${goroot}/VERSION")" == "go${version}" ]] || die "no Go ${version} toolchain at ${goroot}"
  tar="$(rootfs_tar golang "${GOLANG_PACKAGES}" "${key}")"
  ctr="$(bah from --pull-never scratch)"
  bah add --quiet "${ctr}" "${tar}" / >/dev/null
  bah copy --quiet "${ctr}" "${goroot}" /usr/local/go >/dev/null
  bah config --env PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env GOPATH=/go --env GOLANG_VERSION="${version}" --env GOTOOLCHAIN=local \
    --workingdir /go --label "${RECIPE_LABEL}=${key}" \
    --created-by "debootstrap --variant=minbase ${SUITE} ${GOLANG_PACKAGES} + go${version}" "${ctr}"
  bah commit --quiet --rm "${ctr}" "${image}" >/dev/null
  log "base ${image} ready"
  echo "${image}"
}

mkdir -p "${BUILDAH_DIR}"
exec 9>"${BUILDAH_DIR}/.base.lock"
flock 9
python_base
golang_base
