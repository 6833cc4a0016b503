#!/usr/bin/env bash
# The whole suite, as `make test` and CI run it: lint, unit tests, then the
# multi-host lab scenarios. Every stage must really run; the first failure stops it.
set -uo pipefail
cd "$(dirname "$0")/.."
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
stage unit pytest -q -p no:cacheprovider tests/unit
stage molecule bash tests/molecule.sh
# The example app on this machine's engine, then deploys on a fresh lab.
stage lab-tests bash -c "python lab/labctl.py destroy && pytest -v -p no:cacheprovider tests/lab"
echo
echo "suite: $passed passed, $failed failed"
