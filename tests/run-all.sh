#!/usr/bin/env bash
# The whole suite, as `make test` and CI run it: lint, the Galaxy import, sanity,
# unit tests, then the multi-host lab scenarios. Every stage must really run; the
# first failure stops it.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export PATH="$PWD/.venv/bin:$PATH"

passed=0 failed=0
stage() {
  local name=$1; shift
  local start=$SECONDS
  echo
  echo "######## $name"
  if "$@"; then
    passed=$((passed + 1))
    echo "######## $name: ok ($((SECONDS - start))s)"
  else
    failed=$((failed + 1))
    echo "######## $name: FAILED ($((SECONDS - start))s)"
    echo "suite: $passed passed, $failed failed"
    exit 1
  fi
}

stage lint bash tests/lint.sh
# The built tarball through galaxy-importer, as Galaxy checks it on upload.
stage galaxy bash tests/galaxy.sh
# ansible-test sanity for every ansible-core release meta/runtime.yml admits.
stage sanity bash tests/sanity.sh
# Pure logic, and the examples in the docs (no Docker).
stage unit pytest -q -p no:cacheprovider tests/unit tests/docs
stage molecule bash tests/molecule.sh
# The example app on this machine's engine, then a fresh lab provisioned from the
# built and installed collection tarball: deploys, AWX-style jobs through ansible-runner.
stage lab-tests bash -c "python lab/labctl.py destroy && pytest -v -p no:cacheprovider tests/lab"
echo
echo "suite: $passed passed, $failed failed"
