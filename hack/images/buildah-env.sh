# Shared settings of the image scripts: Debian's buildah with the project's own
# storage under the cache folder (nothing in /var/lib/containers), and the
# local registry's address. Sourced, not run.
# shellcheck shell=bash
# The settings below are read by the scripts that source this file.
# shellcheck disable=SC2034

IMAGES_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${IMAGES_LIB_DIR}/../.." && pwd)"
CACHE_ROOT="${BLUEGREEN_CACHE:-${HOME}/.cache/bluegreen-operator}"
BUILDAH_DIR="${CACHE_ROOT}/buildah"
# Layers, images and cache mounts (RUN --mount=type=cache lives under TMPDIR).
BUILDAH_ROOT="${BUILDAH_DIR}/storage"
BUILDAH_RUNROOT="${BUILDAH_DIR}/run"
BUILDAH_TMP="${BUILDAH_DIR}/tmp"
# overlay when the kernel offers it (fast, shared layers); vfs copies every
# layer but works anywhere.
BUILDAH_DRIVER="${BLUEGREEN_BUILDAH_DRIVER:-overlay}"

# The same address as hack/registry/lib.sh (the registry's own settings).
REGISTRY_PORT="${BLUEGREEN_REGISTRY_PORT:-5001}"
REGISTRY="127.0.0.1:${REGISTRY_PORT}"

log() { printf '[images %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

bah() {
  mkdir -p "${BUILDAH_ROOT}" "${BUILDAH_RUNROOT}" "${BUILDAH_TMP}"
  TMPDIR="${BUILDAH_TMP}" buildah --root "${BUILDAH_ROOT}" --runroot "${BUILDAH_RUNROOT}" \
    --storage-driver "${BUILDAH_DRIVER}" "$@"
}

# The version users see: pyproject.toml's, one source for the image tag, the
# manifests and the release artifact.
project_version() {
  sed -n 's/^version = "\(.*\)"$/\1/p' "${REPO_ROOT}/pyproject.toml" | head -1
}

# A build argument's default as the Dockerfile states it (ARG NAME=value).
dockerfile_arg() {
  local file="$1" name="$2"
  sed -n "s/^ARG ${name}=//p" "${file}" | head -1
}
