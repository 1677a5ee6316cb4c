#!/usr/bin/env bash
# `make image`: build the project's Dockerfile and app/Dockerfile as written,
# with Debian's buildah (no Docker engine), and push the results to the local
# registry (hack/registry/registry-up.sh) that the real node pulls from:
#
#   127.0.0.1:5001/bluegreen-operator:<version from pyproject.toml>
#   127.0.0.1:5001/bluegreen-demo:v1, :v2     (app/Dockerfile, APP_VERSION)
#
# Local tags: localhost/bluegreen-operator:<version>, localhost/bluegreen-demo:vN.
#
# Nothing is pulled and the builds run with --network none:
# - the base images are build arguments (GO_IMAGE, PYTHON_IMAGE) pointed at
#   bases assembled locally by hack/images/build-base-images.sh;
# - pip and go find their packages in local mirrors mounted for the build only
#   (buildah --volume, never part of an image): a wheelhouse made here with pip
#   from PyPI, and the Go module cache served as a file:// GOPROXY. They reach
#   the tools through their standard config files (/etc/pip.conf and Go's env
#   file), so the Dockerfiles carry nothing specific to this machine.
#
# Cached: base images, the wheelhouse and buildah's layer cache (--layers) for
# the operator image, of which a warm run rebuilds only the layers whose inputs
# changed; the app images are small and built without the cache (see build()).
#   BLUEGREEN_IMAGE_NO_PUSH=1   build only
#   BLUEGREEN_IMAGE_NO_CACHE=1  ignore the layer cache (a cold build on warm bases)
set -euo pipefail
shopt -s inherit_errexit

# shellcheck source=hack/images/buildah-env.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/buildah-env.sh"

VERSION="$(project_version)"
[[ -n "${VERSION}" ]] || die "no version in pyproject.toml"
OFFLINE="${BUILDAH_DIR}/offline"
APP_VERSIONS=(v1 v2)
FIGURES="${BUILDAH_DIR}/last-build.txt"

elapsed_since() { python3 -c 'import sys,time; print(f"{time.time()-float(sys.argv[1]):.1f}")' "$1"; }

wheelhouse() {
  # Wheels for the operator (its dependencies and build backend) and the demo
  # app, for the Python of the base image (3.11, glibc of bookworm), fetched
  # from PyPI by pip on this machine. Keyed by what asks for them.
  local py key dir
  py="${BLUEGREEN_WHEEL_PYTHON:-/usr/bin/python3}"
  key="$( (cat "${REPO_ROOT}/pyproject.toml" "${REPO_ROOT}/app/requirements.txt"; "${py}" --version) \
    | sha256sum | cut -c1-16)"
  dir="${OFFLINE}/wheels-${key}"
  if [[ ! -f "${dir}/.complete" ]]; then
    log "wheelhouse for the images (pip wheel from PyPI) -> ${dir}"
    rm -rf "${dir}"
    mkdir -p "${dir}"
    "${py}" - "${REPO_ROOT}/pyproject.toml" >"${dir}/requirements.txt" <<'PY'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))
for line in project["build-system"]["requires"] + project["project"]["dependencies"]:
    print(line)
PY
    "${py}" -m pip wheel --quiet --disable-pip-version-check --wheel-dir "${dir}" \
      -r "${dir}/requirements.txt" -r "${REPO_ROOT}/app/requirements.txt" >&2
    touch "${dir}/.complete"
    # Wheelhouses of earlier dependency lists are of no further use.
    find "${OFFLINE}" -mindepth 1 -maxdepth 1 -name 'wheels-*' ! -path "${dir}" -exec rm -rf {} +
  fi
  echo "${dir}"
}

go_proxy() {
  # The host's module cache, filled for exactly the modules the Dockerfile's
  # `go install` lines need (a no-op when the toolchain was built), is a
  # GOPROXY in the file:// layout.
  # shellcheck source=hack/versions.env
  source "${REPO_ROOT}/hack/versions.env"
  local gobin
  gobin="$(mktemp -d)"
  # One `go install -n` per module (each is its own main module): resolves
  # and downloads, compiles nothing.
  GOBIN="${gobin}" CGO_ENABLED=0 go install -n "github.com/hashicorp/terraform@${TERRAFORM_VERSION}" \
    >/dev/null 2>&1
  GOBIN="${gobin}" CGO_ENABLED=0 go install -n \
    "github.com/hashicorp/terraform-provider-kubernetes@${TF_PROVIDER_KUBERNETES_MODULE_VERSION}" >/dev/null 2>&1
  rmdir "${gobin}"
  echo "$(go env GOMODCACHE)/cache/download"
}

offline_mounts() { # wheelhouse goproxy -> buildah --volume arguments
  mkdir -p "${OFFLINE}"
  printf '[global]\nno-index = true\nfind-links = /mirror/wheels\n' >"${OFFLINE}/pip.conf"
  # The module zips were checked against sum.golang.org when this machine
  # downloaded them; the build has no network to ask again.
  printf 'GOPROXY=file:///mirror/goproxy\nGOSUMDB=off\n' >"${OFFLINE}/go.env"
  printf '%s\n' \
    --volume "$1:/mirror/wheels:ro" \
    --volume "$2:/mirror/goproxy:ro" \
    --volume "${OFFLINE}/pip.conf:/etc/pip.conf:ro" \
    --volume "${OFFLINE}/go.env:/root/.config/go/env:ro"
}

# Docker's image format, as `docker build` makes: the OCI format has no SHELL,
# and the Dockerfile's RUN lines rely on bash with pipefail.
BUILD_FLAGS=(--pull=never --network=none --cgroup-manager cgroupfs --isolation oci --format docker)

# buildah leaves the mount points of --volume (empty files and folders) in the
# layer of each RUN, and its layer cache (1.28) keys a step by the text of its
# instruction, not by the build arguments' values. Hence two ways to build:
#   staged "S1 S2": the stages that install packages (S1, S2) are built first
#     with the mirrors mounted, then the image without them, its stages taken
#     from the layer cache: no layer of the image can hold a trace of the
#     mirrors, and a stage missing from the cache fails loudly (no index, no
#     network). For a Dockerfile whose build arguments only pick base images.
#   uncached: one build with the mirrors and no layer cache, for a Dockerfile
#     built once per value of a build argument (the app's APP_VERSION) whose
#     final stage runs nothing.
# Either way the result is checked for traces of the mirrors.
build() { # context dockerfile tag mode [buildah build args...]
  local source="$1" context file="$2" tag="$3" mode="$4" stage; shift 4
  context="$(snapshot "${source}")"
  cp "${file}" "${context}/.Dockerfile.build"
  file="${context}/.Dockerfile.build"
  case "${mode}" in
    staged\ *)
      local fresh=()
      # The image's own build always uses the cache: it must reuse those stages.
      [[ "${BLUEGREEN_IMAGE_NO_CACHE:-0}" == 1 ]] && fresh=(--no-cache)
      for stage in ${mode#staged }; do
        bah build --quiet --layers "${BUILD_FLAGS[@]}" "${fresh[@]}" "${mounts[@]}" --target "${stage}" \
          -f "${file}" "$@" "${context}" >/dev/null
      done
      bah build --quiet --layers "${BUILD_FLAGS[@]}" -f "${file}" -t "${tag}" "$@" "${context}" >/dev/null
      ;;
    uncached)
      bah build --quiet --layers=false "${BUILD_FLAGS[@]}" "${mounts[@]}" -f "${file}" -t "${tag}" \
        "$@" "${context}" >/dev/null
      ;;
    *) die "unknown build mode ${mode}" ;;
  esac
  rm -rf "${context}"
  no_mirror_traces "${tag}"
}

no_mirror_traces() { # image: none of the mirrors' mount points made it into a layer
  local ctr root found=()
  ctr="$(bah from --pull-never "$1")"
  root="$(bah mount "${ctr}")"
  local path
  for path in /mirror /etc/pip.conf /root/.config/go/env /.Dockerfile.build; do
    [[ -e "${root}${path}" ]] && found+=("${path}")
  done
  bah umount "${ctr}" >/dev/null
  bah rm "${ctr}" >/dev/null
  ((${#found[@]} == 0)) || die "$1 holds traces of the build: ${found[*]}"
}

snapshot() { # context -> a copy of what the build may see, taken once
  # Every build of one image reads this copy: files edited meanwhile must not
  # make the image's build miss the cache of the stages built before it. The
  # copy follows .dockerignore's allow-list ("*" then "!path" lines);
  # buildah applies the file's exclusions to the copy again.
  local src="$1" dst entry
  dst="$(mktemp -d "${BUILDAH_TMP}/context.XXXXXX")"
  if [[ -f "${src}/.dockerignore" && "$(head -1 <(grep -v '^#' "${src}/.dockerignore"))" == "*" ]]; then
    cp "${src}/.dockerignore" "${dst}/"
    while IFS= read -r entry; do
      entry="${entry#!}"
      entry="${entry%/}"
      [[ -e "${src}/${entry}" ]] && (cd "${src}" && cp -a --parents "${entry}" "${dst}/")
    done < <(grep '^!' "${src}/.dockerignore")
  else
    cp -a "${src}/." "${dst}/"
  fi
  echo "${dst}"
}

size_of() { # image -> its size as stored, uncompressed ("553 MB")
  bah images --json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["size"])'
}

push() { # local target
  bah push --quiet --tls-verify=false "$1" "docker://${REGISTRY}/$2" >&2
}

registry_size() { # repo:tag -> compressed bytes of config + layers in the registry
  local repo="${1%%:*}" tag="${1##*:}"
  curl -fsS -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "http://${REGISTRY}/v2/${repo}/manifests/${tag}" \
    | python3 -c 'import json,sys; m=json.load(sys.stdin); print(m["config"]["size"] + sum(l["size"] for l in m["layers"]))'
}

main() {
  local t0 bases python_image go_image wheels goproxy
  t0="$(date +%s.%N)"
  command -v buildah >/dev/null || die "buildah missing: hack/install-system-deps.sh installs it"
  mkdir -p "${BUILDAH_DIR}"
  exec 8>"${BUILDAH_DIR}/.build.lock"
  flock 8
  # Context copies a failed build left behind (builds take the lock above).
  rm -rf "${BUILDAH_TMP}"/context.*
  mapfile -t bases < <("${IMAGES_LIB_DIR}/build-base-images.sh")
  python_image="${bases[0]}"
  go_image="${bases[1]}"
  log "bases ready at +$(elapsed_since "${t0}")s: ${python_image}, ${go_image}"
  wheels="$(wheelhouse)"
  goproxy="$(go_proxy)"
  mapfile -t mounts < <(offline_mounts "${wheels}" "${goproxy}")
  log "local mirrors ready at +$(elapsed_since "${t0}")s"

  local t_op t_app op="localhost/bluegreen-operator:${VERSION}"
  t_op="$(date +%s.%N)"
  build "${REPO_ROOT}" "${REPO_ROOT}/Dockerfile" "${op}" "staged terraform python" \
    --build-arg "GO_IMAGE=${go_image}" --build-arg "PYTHON_IMAGE=${python_image}"
  t_op="$(elapsed_since "${t_op}")"
  log "built ${op} in ${t_op}s"
  t_app="$(date +%s.%N)"
  local v
  for v in "${APP_VERSIONS[@]}"; do
    build "${REPO_ROOT}/app" "${REPO_ROOT}/app/Dockerfile" "localhost/bluegreen-demo:${v}" uncached \
      --build-arg "PYTHON_IMAGE=${python_image}" --build-arg "APP_VERSION=${v}"
  done
  t_app="$(elapsed_since "${t_app}")"
  log "built localhost/bluegreen-demo:{${APP_VERSIONS[*]}} in ${t_app}s"

  local refs=("bluegreen-operator:${VERSION}") ref
  for v in "${APP_VERSIONS[@]}"; do refs+=("bluegreen-demo:${v}"); done
  {
    echo "build: operator ${t_op}s, demo app ${t_app}s ($(date -u +%FT%TZ))"
    for ref in "${refs[@]}"; do
      echo "size ${ref}: $(size_of "localhost/${ref}") uncompressed"
    done
  } >"${FIGURES}.tmp"
  if [[ "${BLUEGREEN_IMAGE_NO_PUSH:-0}" != 1 ]]; then
    "${REPO_ROOT}/hack/registry/registry-up.sh" >&2
    for ref in "${refs[@]}"; do
      push "localhost/${ref}" "${ref}"
      echo "pushed ${REGISTRY}/${ref}: $(( $(registry_size "${ref}") / 1000000 )) MB compressed" >>"${FIGURES}.tmp"
    done
  fi
  mv "${FIGURES}.tmp" "${FIGURES}"
  sed 's/^/[images] /' "${FIGURES}" >&2
  log "done in $(elapsed_since "${t0}")s"
}

main "$@"
