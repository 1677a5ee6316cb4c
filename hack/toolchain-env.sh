#!/usr/bin/env bash
# Prints `export ...` lines for the cached toolchain, for
#   eval "$(hack/toolchain-env.sh)"
# Used by the other hack/ scripts and by tests/conftest.py, so the location of
# the toolchain is computed in exactly one place. Prints paths even when the
# toolchain is not built yet (hack/build-toolchain.sh uses them to know where
# to build).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
versions="${here}/versions.env"

# The folder is keyed by the pinned versions: only KEY=value lines count, so
# editing comments does not throw away a 20-minute build.
key_hash="$(grep -E '^[A-Z0-9_]+=' "${versions}" | LC_ALL=C sort | sha256sum | cut -c1-12)"
k8s_version="$(sed -n 's/^KUBERNETES_VERSION=//p' "${versions}")"
cache_root="${BLUEGREEN_CACHE:-${HOME}/.cache/bluegreen-operator}"
toolchain="${cache_root}/toolchain/k8s-${k8s_version}-${key_hash}"

q() { printf '%q' "$1"; }

echo "export BLUEGREEN_TOOLCHAIN_DIR=$(q "${toolchain}")"
# Toolchain first so these exact builds win over anything else on PATH; the
# check avoids piling up duplicates when the line is eval'ed repeatedly.
case ":${PATH}:" in
  *":${toolchain}/bin:"*) echo "export PATH=$(q "${PATH}")" ;;
  *) echo "export PATH=$(q "${toolchain}/bin:${PATH}")" ;;
esac
echo "export TF_CLI_CONFIG_FILE=$(q "${toolchain}/terraformrc")"
# Terraform never prompts, never phones home, and words its output for automation.
echo "export TF_IN_AUTOMATION=1"
echo "export TF_INPUT=0"
echo "export CHECKPOINT_DISABLE=1"
