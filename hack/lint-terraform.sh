#!/usr/bin/env bash
# Format and validate the bundled Terraform module, offline, with the pinned
# toolchain (Terraform and the provider from the filesystem mirror). The module
# is copied to a scratch directory so no .terraform/ is ever left in the repo.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
eval "$("${repo}/hack/toolchain-env.sh")"

if [[ ! -x "${BLUEGREEN_TOOLCHAIN_DIR}/bin/terraform" ]]; then
  echo "lint-terraform: no toolchain at ${BLUEGREEN_TOOLCHAIN_DIR}; run 'make toolchain'" >&2
  exit 1
fi

scratch="$(mktemp -d)"
trap 'rm -rf "${scratch}"' EXIT

terraform fmt -check -diff -recursive "${repo}/terraform"

cp "${repo}"/terraform/*.tf "${repo}/terraform/.terraform.lock.hcl" "${scratch}/"
# -lockfile=readonly: fail instead of quietly rewriting hashes if the mirror's
# provider no longer matches the committed lock file.
terraform -chdir="${scratch}" init -backend=false -input=false -no-color -lockfile=readonly >/dev/null
terraform -chdir="${scratch}" validate -no-color
echo "lint-terraform: ok"
