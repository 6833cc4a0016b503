#!/usr/bin/env bash
# Static checks: yamllint, ansible-lint (production profile), the changelog,
# playbook syntax, and the documentation of every module rendering with ansible-doc.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" ANSIBLE_CONFIG="$PWD/ansible.cfg" ANSIBLE_NOCOLOR=1

echo "== yamllint"
yamllint -s .

echo "== ansible-lint (production profile)"
ansible-lint --profile production --offline -q roles playbooks

echo "== changelog fragments and changelogs/changelog.yaml (antsibull-changelog)"
antsibull-changelog lint
antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml

echo "== playbook syntax"
for pb in playbooks/*.yml; do
  ansible-playbook --syntax-check -i inventories/example/hosts.yml "$pb" >/dev/null
  echo "   $pb ok"
done

echo "== ansible-doc renders every module"
for mod in plugins/modules/*.py; do
  name=$(basename "$mod" .py)
  ansible-doc -t module "conductor.swarm.$name" >/dev/null
  echo "   conductor.swarm.$name ok"
done
