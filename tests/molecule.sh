#!/usr/bin/env bash
# Run the lab scenarios with Molecule; fail unless each one really ran
# converge, idempotence and verify (a scenario that skips is a failure here).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$PWD/ansible.cfg" ANSIBLE_NOCOLOR=1 PY_COLORS=0
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(one_manager three_managers)

for scenario in "${scenarios[@]}"; do
  export CONDUCTOR_LOG_DIR="$PWD/.build/logs/$scenario"
  rm -rf "$CONDUCTOR_LOG_DIR" && mkdir -p "$CONDUCTOR_LOG_DIR"
  log="$CONDUCTOR_LOG_DIR/molecule.log"
  echo "== molecule scenario $scenario (log: ${log#"$PWD"/})"
  start=$SECONDS
  if ! molecule test -s "$scenario" >"$log" 2>&1; then
    tail -n 80 "$log"
    echo "molecule scenario $scenario FAILED after $((SECONDS - start))s (full log: ${log#"$PWD"/})"
    exit 1
  fi
  # Proof that the stages ran, not just that molecule exited 0.
  recaps=$(grep -c "PLAY RECAP" "$log" || true)
  verified=$(grep -Ec "^=+ [0-9]+ passed" "$log" || true)
  grep -q "> idempotence] Executed: Successful" "$log" || { echo "$scenario: idempotence did not run"; exit 1; }
  [ "$verified" -ge 2 ] || { echo "$scenario: verify did not run twice ($verified)"; tail -n 60 "$log"; exit 1; }
  grep -E "^=+ .*(passed|failed|skipped).* =+$" "$log" | sed "s/^/   $scenario verify: /"
  echo "   $scenario: $recaps playbook runs, $((SECONDS - start))s"
done
