#!/usr/bin/env bash
# Installs the Debian packages the scripts call, only when something is
# missing (apt-get update is slow and usually not needed on a warm machine).
# buildah, docker-registry and debootstrap: `make image` (no Docker engine;
# bases assembled locally, pushed to a local registry). runc: buildah's RUN
# steps need an OCI runtime, which Debian only recommends (and the install
# below skips recommends).
# prometheus: the tests' own Prometheus (static targets); the local cluster's
# needs Kubernetes discovery, which Debian leaves out (hack/build-prometheus.sh).
# chromium: the browser test of `kubectl bluegreen dashboard` (Playwright drives
# this system browser; it never downloads one of its own).
# Go >= 1.26 must already be on PATH: it builds the local cluster.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

need=()
for pair in make:make openssl:openssl curl:curl jq:jq flock:util-linux \
  python3:python3 git:git shellcheck:shellcheck \
  buildah:buildah runc:runc docker-registry:docker-registry debootstrap:debootstrap \
  prometheus:prometheus chromium:chromium; do
  command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
# postgresql: the database of the stateful release test on the real node
# (tests/e2e/test_stateful_release.py runs its own server on a private data dir).
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
if ((${#need[@]})); then
  if [[ "$(id -u)" != "0" ]]; then
    echo "missing packages: ${need[*]} (install them with apt-get as root)" >&2
    exit 1
  fi
  echo "installing: ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" ca-certificates
  # Debian starts its Prometheus as a service on :9090, the operator's default
  # metrics port; the project runs its own (hack/prometheus-up.sh, the tests).
  if [[ " ${need[*]} " == *" prometheus "* && -d /run/systemd/system ]]; then
    systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  fi
  # Nor does it use Debian's PostgreSQL service (the main cluster on :5432).
  if [[ " ${need[*]} " == *" postgresql "* && -d /run/systemd/system ]]; then
    systemctl disable --now postgresql.service >/dev/null 2>&1 || true
  fi
fi
command -v go >/dev/null || { echo "Go >= 1.26 is required on PATH" >&2; exit 1; }
