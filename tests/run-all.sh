#!/usr/bin/env bash
# The whole suite, as `make test` and CI run it: lint, the Galaxy import, sanity,
# unit tests, then the multi-host lab scenarios. Every stage must really run; the
# first failure stops it.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export PATH="$PWD/.venv/bin:$PATH"
mkdir -p .build/logs

passed=0 failed=0
verdict() {  # name, exit status, seconds
  if [ "$2" -eq 0 ]; then
    passed=$((passed + 1))
    echo "######## $1: ok ($3s)"
  else
    failed=$((failed + 1))
    echo "######## $1: FAILED ($3s)"
    echo "suite: $passed passed, $failed failed"
    exit 1
  fi
}
stage() {
  local name=$1; shift
  local start=$SECONDS
  echo
  echo "######## $name"
  "$@"
  verdict "$name" $? $((SECONDS - start))
}
# Stages that need neither Docker nor steady timing run one after another beside
# the next ones: each one's output goes to .build/logs/<name>.log, printed whole, with
# its verdict, when they are awaited. The first that fails ends the chain.
beside_pid=""
beside_names=()
beside() {
  beside_names=("$@")
  echo
  echo "######## ${beside_names[*]}: run beside the next stages (logs: .build/logs/<stage>.log)"
  (
    for name in "${beside_names[@]}"; do
      start=$SECONDS
      bash "tests/$name.sh" > ".build/logs/$name.log" 2>&1
      rc=$?
      echo "$rc $((SECONDS - start))" > ".build/logs/$name.verdict"
      [ "$rc" -eq 0 ] || exit 1
    done
  ) &
  beside_pid=$!
}
await() {
  local name rc seconds
  wait "$beside_pid"
  beside_pid=""
  for name in "${beside_names[@]}"; do
    echo
    echo "######## $name"
    if [ ! -f ".build/logs/$name.verdict" ]; then
      echo "not run: a stage before it failed"
      verdict "$name" 1 0
    fi
    cat ".build/logs/$name.log"
    read -r rc seconds < ".build/logs/$name.verdict"
    verdict "$name" "$rc" "$seconds"
  done
}
# A stage that fails stops the suite: one still running beside it stops too.
stop_beside() {
  [ -n "$beside_pid" ] || return 0
  pkill -TERM -P "$beside_pid" 2>/dev/null
  kill "$beside_pid" 2>/dev/null
}
trap stop_beside EXIT

stage lint bash tests/lint.sh
# The built tarball through galaxy-importer, as Galaxy checks it on upload; then
# ansible-test sanity for every ansible-core release meta/runtime.yml admits. They
# need no Docker, so they run beside the unit tests and Molecule; the lab tests
# measure requests under load and run alone, after them.
rm -f .build/logs/galaxy.verdict .build/logs/sanity.verdict
beside galaxy sanity
# Pure logic, and the examples in the docs (no Docker).
stage unit pytest -q -p no:cacheprovider tests/unit tests/docs
stage molecule bash tests/molecule.sh
await
# The example app on this machine's engine, then a fresh lab provisioned from the
# built and installed collection tarball: deploys, AWX-style jobs through ansible-runner.
stage lab-tests bash -c "python lab/labctl.py destroy && pytest -v -p no:cacheprovider --durations=25 tests/lab"
echo
echo "suite: $passed passed, $failed failed"
