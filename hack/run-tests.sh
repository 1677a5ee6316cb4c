#!/usr/bin/env bash
# The body of the README's test command: unit tests, then everything that
# needs the local cluster (the session fixture in tests/conftest.py starts it
# when none is running and stops it afterwards). pytest's exit code 5 ("no
# tests collected") is a failure here: a suite that silently runs nothing must
# not pass.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo}"
eval "$(hack/toolchain-env.sh)"
pytest="${repo}/.venv/bin/pytest"
[[ -x "${pytest}" ]] || { echo "missing ${pytest}: run 'make venv'" >&2; exit 1; }

# Arguments, when given, name what to run (e.g. `make chaos`: tests/chaos).
paths=(tests)
[[ -d app/tests ]] && paths+=(app/tests)
if (($# > 0)); then
  paths=()
fi

rc=0
"${pytest}" "${paths[@]}" "$@" || rc=$?
if ((rc == 5)); then
  echo "pytest collected no tests: failing on purpose" >&2
  exit 1
fi
exit "${rc}"
