#!/usr/bin/env bash
# `make release`: the install as one file, for `kubectl apply -f`.
#
#   dist/<version>/install.yaml                      kustomize output of manifests/
#   dist/<version>/bluegreenreleases.bluegreen.dev.yaml   the CRD alone
#   dist/<version>/SHA256SUMS
#
# <version> is pyproject.toml's; the Deployment's image is
# ${BLUEGREEN_IMAGE:-bluegreen-operator}:<version>, so a release names the
# registry its image was pushed to (BLUEGREEN_IMAGE=registry.example/bluegreen-operator).
# Refuses to write a release whose manifests claim another version.
# BLUEGREEN_DIST: output folder instead of dist/ (tests).
set -euo pipefail
shopt -s inherit_errexit

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo}"
eval "$(hack/toolchain-env.sh)"

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -1)"
[[ -n "${version}" ]] || { echo "release: no version in pyproject.toml" >&2; exit 1; }
image="${BLUEGREEN_IMAGE:-bluegreen-operator}"
out="${BLUEGREEN_DIST:-${repo}/dist}/${version}"
crd=crds/bluegreenreleases.bluegreen.dev.yaml

claimed="$(sed -n 's/^ *app.kubernetes.io\/version: "\(.*\)"$/\1/p' manifests/base/deployment.yaml | sort -u)"
if [[ "${claimed}" != "${version}" ]]; then
  echo "release: manifests/base/deployment.yaml says version ${claimed//$'\n'/, }, pyproject.toml ${version}" >&2
  exit 1
fi

# The image is set by a kustomization of its own on top of manifests/, the way
# a user sets theirs, so manifests/ stays untouched.
work="$(mktemp -d)"
trap 'rm -rf "${work}"' EXIT
# kustomize takes relative paths only.
base="$(python3 -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "${repo}/manifests" "${work}")"
cat >"${work}/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - ${base}
images:
  - name: bluegreen-operator
    newName: ${image}
    newTag: "${version}"
YAML

mkdir -p "${out}"
{
  echo "# bluegreen-operator ${version}: CRD, namespace bluegreen-system, RBAC, Deployment."
  echo "#   kubectl apply -f install.yaml"
  echo "# Uninstall: delete the releases first, while the operator runs (docs/install.md)."
  kubectl kustomize "${work}"
} >"${out}/install.yaml.tmp"
mv "${out}/install.yaml.tmp" "${out}/install.yaml"
cp "${crd}" "${out}/$(basename "${crd}")"
(cd "${out}" && sha256sum install.yaml "$(basename "${crd}")" >SHA256SUMS)
echo "release ${version} (image ${image}:${version}) in ${out}:"
ls -l "${out}"
