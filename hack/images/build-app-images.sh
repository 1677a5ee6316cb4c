#!/usr/bin/env bash
# Build the demo app's container images (spacelift-app:v1 and :v2) without a
# Docker engine or a registry, and optionally import them into containerd.
#
#   hack/images/build-app-images.sh                 # build (cached) -> prints the archive path
#   hack/images/build-app-images.sh --import SOCK   # build, then import into containerd at SOCK
#
# Layers:
#   1. base: a Debian bookworm minbase root filesystem with python3,
#      python3-flask, python3-prometheus-client and python3-psycopg2 (the
#      app's optional database mode), made by debootstrap from
#      Debian's own packages. It is slow to make (a few minutes), so it is cached outside the repo under
#      ${BLUEGREEN_CACHE}/images, keyed by its recipe.
#   2. app: /app/app.py from this repo (tiny, rebuilt whenever it changes).
# v1 and v2 share both layers and differ only by APP_VERSION in the image
# config, which is exactly how the seed workflow tells the versions apart.
# The same archive carries the pod sandbox image (pause.c), so the node needs
# no registry at all.
# The result is a docker-archive tarball (manifest.json + RepoTags) because
# `ctr images import` reads it natively and keeps the tags.
set -euo pipefail
# Failures inside $(...) must stop the build too, not yield an empty path.
shopt -s inherit_errexit

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE_ROOT="${BLUEGREEN_CACHE:-$HOME/.cache/bluegreen-operator}"
IMAGES_DIR="${CACHE_ROOT}/images"
SUITE="bookworm"
# The host's own Debian mirror: the only package source this machine reaches.
MIRROR="${BLUEGREEN_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES="python3,python3-flask,python3-prometheus-client,python3-psycopg2,ca-certificates"
# Bump when the way the base is made changes, so stale caches are not reused.
BASE_RECIPE_VERSION=1
IMAGE_NAME="${BLUEGREEN_APP_IMAGE:-spacelift-app}"
VERSIONS=(v1 v2)
# The sandbox image the node's containerd is configured with (hack/node/).
PAUSE_IMAGE="${BLUEGREEN_PAUSE_IMAGE:-bluegreen.local/pause:1}"

log() { printf '[images] %s\n' "$*" >&2; }

ensure_tools() {
  local missing=()
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v python3 >/dev/null || missing+=(python3)
  if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }
  fi
}

build_base() {
  local key base tmp
  key="$(printf '%s|%s|%s|%s' "$SUITE" "$PACKAGES" "$BASE_RECIPE_VERSION" "$(uname -m)" | sha256sum | cut -c1-16)"
  base="${IMAGES_DIR}/base-${SUITE}-${key}.tar"
  if [[ -s "$base" ]]; then
    echo "$base"
    return
  fi
  [[ $EUID -eq 0 ]] || { log "debootstrap needs root"; exit 1; }
  ensure_tools
  mkdir -p "$IMAGES_DIR"
  tmp="$(mktemp -d "${IMAGES_DIR}/.rootfs.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: the trap must remove this very directory
  trap "rm -rf '$tmp'" EXIT
  log "debootstrap ${SUITE} (minbase + ${PACKAGES}); a few minutes, cached afterwards"
  local t0=$SECONDS
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$tmp/rootfs" "$MIRROR" \
    >"$tmp/debootstrap.log" 2>&1 || { tail -30 "$tmp/debootstrap.log" >&2; exit 1; }
  # Drop what a container never needs: package caches and indexes, docs, and
  # the device nodes debootstrap made (the runtime mounts its own /dev).
  rm -rf "$tmp/rootfs"/var/cache/apt/archives/*.deb "$tmp/rootfs"/var/lib/apt/lists/* \
    "$tmp/rootfs"/usr/share/doc/* "$tmp/rootfs"/usr/share/man/* "$tmp/rootfs"/usr/share/info/* \
    "$tmp/rootfs"/var/log/*.log "$tmp/rootfs"/dev/* "$tmp/rootfs"/proc/* "$tmp/rootfs"/sys/*
  # Reproducible layer: fixed order, owners and times, so the digest only
  # changes when the content does.
  tar --sort=name --numeric-owner --mtime='@0' --xattrs --xattrs-include='security.capability' \
    -C "$tmp/rootfs" -cf "$tmp/base.tar" .
  mv "$tmp/base.tar" "$base"
  rm -rf "$tmp"
  trap - EXIT
  log "base layer ready in $((SECONDS - t0))s: $base ($(du -h "$base" | cut -f1))"
  echo "$base"
}

build_pause_layer() {
  # The pod sandbox image: one static binary from pause.c. Tiny, so it is
  # rebuilt into the work dir every time instead of being cached on its own.
  local work="$1"
  command -v cc >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev >/dev/null
  mkdir -p "$work/pause"
  cc -static -Os -o "$work/pause/pause" "$REPO_ROOT/hack/images/pause.c"
  strip "$work/pause/pause"
  touch -d '@0' "$work/pause/pause"
  tar --sort=name --numeric-owner --owner=0 --group=0 --mtime='@0' -C "$work/pause" -cf "$work/pause.tar" ./pause
}

build_archive() {
  local base="$1" out key work
  work="$(mktemp -d)"
  # shellcheck disable=SC2064 # expand now: the trap must remove this very directory
  trap "rm -rf '$work'" EXIT
  mkdir -p "$work/app/app"
  cp "$REPO_ROOT/app/app.py" "$work/app/app/app.py"
  tar --sort=name --numeric-owner --owner=0 --group=0 --mtime='@0' -C "$work/app" -cf "$work/app.tar" ./app
  build_pause_layer "$work"
  key="$( (sha256sum "$base" "$work/app.tar" "$work/pause.tar" "${BASH_SOURCE[0]}" | cut -c1-64
           echo "$IMAGE_NAME ${VERSIONS[*]} $PAUSE_IMAGE") | sha256sum | cut -c1-16)"
  out="${IMAGES_DIR}/${IMAGE_NAME}-${key}.tar"
  if [[ ! -s "$out" ]]; then
    log "packing ${IMAGE_NAME}:{${VERSIONS[*]}} and ${PAUSE_IMAGE} -> $out"
    python3 "$REPO_ROOT/hack/images/pack_docker_archive.py" --out "$out.tmp" \
      --base "$base" --app "$work/app.tar" --pause "$work/pause.tar" \
      --name "$IMAGE_NAME" --pause-tag "$PAUSE_IMAGE" "${VERSIONS[@]}"
    mv "$out.tmp" "$out"
    # One archive per app.py is plenty: drop the ones older inputs made.
    find "$IMAGES_DIR" -maxdepth 1 -name "${IMAGE_NAME}-*.tar" ! -path "$out" -delete
  fi
  rm -rf "$work"
  trap - EXIT
  echo "$out"
}

main() {
  local import_sock=""
  while (($#)); do
    case "$1" in
      --import) import_sock="$2"; shift 2 ;;
      -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}"; exit 0 ;;
      *) log "unknown argument: $1"; exit 2 ;;
    esac
  done
  local base archive
  base="$(build_base)"
  archive="$(build_archive "$base")"
  if [[ -n "$import_sock" ]]; then
    local ctr="${CTR:-ctr}"
    log "importing $archive into containerd ($import_sock, namespace k8s.io)"
    "$ctr" --address "$import_sock" -n k8s.io images import "$archive" >&2
    local listed ref
    listed="$("$ctr" --address "$import_sock" -n k8s.io images ls -q)"
    for ref in "${VERSIONS[@]/#/docker.io/library/${IMAGE_NAME}:}" "$PAUSE_IMAGE"; do
      grep -qx "$ref" <<<"$listed" || { log "image $ref missing after import"; exit 1; }
    done
  fi
  echo "$archive"
}

main "$@"
