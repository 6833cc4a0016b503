#!/usr/bin/env bash
# ansible-test sanity for every ansible-core version meta/runtime.yml admits.
# ansible-test wants the collection at .../ansible_collections/conductor/swarm:
# we copy the tracked (and new, unignored) files there instead of moving the repo
# (tests/sanity/copy_tree.sh; never ansible-lint's .ansible/ cache).
# Each ansible-core version gets its own small virtualenv; `--venv` lets
# ansible-test install its own pinned tool versions for each test.
#   usage: tests/sanity.sh [core-version ...]   (default: all in SANITY_CORES)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# ansible-core release line -> exact pin and the controller Python it runs on.
declare -A PIN=([2.16]=2.16.19 [2.17]=2.17.14 [2.18]=2.18.19 [2.19]=2.19.14 [2.20]=2.20.10 [2.21]=2.21.5)
declare -A PYTHON=([2.16]=3.11 [2.17]=3.11 [2.18]=3.11 [2.19]=3.11 [2.20]=3.12 [2.21]=3.12)
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(2.16 2.17 2.18 2.19 2.20 2.21)
# pylint is more than half of each release's run (80 of 150 s here). It runs on the oldest and
# newest release and on the one the lab tests pin (requirements.txt); the releases between get
# every other test. SANITY_PYLINT_ALL=1 runs it on all of them.
declare -A PYLINT=([2.16]=1 [2.19]=1 [2.21]=1)

find_python() {  # python3.X on PATH or in pyenv
  local v=$1
  command -v "python$v" >/dev/null 2>&1 && "python$v" -c '' 2>/dev/null && { command -v "python$v"; return; }
  return 1
}

# The shellcheck sanity test: ansible-test skips it (with a warning
# only) when the program is missing, so install it from Debian's packages.
if ! command -v shellcheck >/dev/null; then
  apt-get install -y -qq shellcheck >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq shellcheck >/dev/null; }
fi
# compile and import run on every Python they find as pythonX.Y on PATH. pyenv's
# shims need PYENV_VERSION, which ansible-test does not pass on: link each
# installed interpreter under its own name instead.
pythons=$root/.build/sanity-pythons
rm -rf "$pythons" && mkdir -p "$pythons"
for p in "$HOME"/.pyenv/versions/*/bin/python[23].*; do
  case $p in *-config|*m|*.py) continue ;; esac
  [ -x "$p" ] && ln -sf "$p" "$pythons/$(basename "$p")"
done
export PATH="$pythons:$PATH"

tree=$root/.build/sanity/ansible_collections/conductor/swarm
rm -rf "$root/.build/sanity"
mkdir -p "$tree"
bash tests/sanity/copy_tree.sh "$tree"
# ansible-test reads file lists from git when there is a repository; give it one.
(cd "$tree" && git init -q && git add -A && git -c user.name=sanity -c user.email=sanity@localhost commit -qm sanity)

# ansible-test bootstraps pip in its venvs with a get-pip script from its own
# download host, which this machine cannot reach. It looks in its cache first:
# put a stand-in there that installs the same pinned pip from PyPI instead.
bootstrap_pip() {
  local venv=$1 pip_version cache
  pip_version=$(grep -ho "pip='[0-9.]*'" "$venv"/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py | head -1 | tr -dc '0-9.')
  cache=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
  [ -f "$cache" ] && return
  mkdir -p "$(dirname "$cache")"
  cp "$root/tests/sanity/get_pip_standin.py" "$cache"
}

failed=()
for v in "${versions[@]}"; do
  echo "== ansible-test sanity, ansible-core ${PIN[$v]}"
  if ! py=$(find_python "${PYTHON[$v]}"); then
    echo "   NOT RUN: ansible-core $v needs Python ${PYTHON[$v]} on the controller and none was found"
    failed+=("$v (no Python ${PYTHON[$v]})")
    continue
  fi
  venv=$root/.build/sanity-venvs/core-${PIN[$v]}
  if [ ! -x "$venv/bin/ansible-test" ]; then
    "$py" -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "ansible-core==${PIN[$v]}"
  fi
  bootstrap_pip "$venv"
  # pip's chatter about this machine's extra package indexes is dropped.
  skip=()
  if [ -z "${PYLINT[$v]:-}" ] && [ -z "${SANITY_PYLINT_ALL:-}" ] && [ $# -eq 0 ]; then
    skip=(--skip-test pylint)
    echo "   (pylint: on 2.16, 2.19 and 2.21 only; SANITY_PYLINT_ALL=1 for every release)"
  fi
  if (cd "$tree" && "$venv/bin/ansible-test" sanity --venv --color no "${skip[@]}" 2>&1 \
      | grep -v "^WARNING: Location 'file:///opt/"); then
    echo "   ansible-core ${PIN[$v]}: clean"
  else
    failed+=("$v")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "sanity failed for: ${failed[*]}"
  exit 1
fi
