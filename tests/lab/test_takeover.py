"""Taking over a stack `docker stack deploy` made, from the same files: no task restarts.

The example stack (a config and a secret mounted by web) is deployed by the Docker
CLI on the manager and left to settle; then playbooks/deploy.yml deploys the same
files under the same name. Every task the CLI started must still be the one running
(only our labels are added to the services), the CLI's config and secret stay in
use, and a second run changes nothing.
"""
import json
import re

from cli_side import login_on_manager
from conftest import ROOT, deploy, services
from labenv import copy_to_manager, on_manager, remove_stack

STACK = "takeover"


def running_tasks(manager):
    """{service: sorted IDs of its tasks that should be running}."""
    found = {}
    for name, service in services(manager, STACK).items():
        tasks = manager.check_output("docker service ps -q --no-trunc --filter desired-state=running %s"
                                     % service["ID"]).split()
        found[name] = sorted(tasks)
    return found


def refs(service, key, name):
    return sorted(r[name] for r in service["Spec"]["TaskTemplate"]["ContainerSpec"].get(key) or [])


def changed_count(stdout):
    found = re.search(r"changed=(\d+)", stdout)
    return int(found.group(1)) if found else None


def test_a_stack_the_cli_made_is_taken_over_without_restarting_a_task(lab, manager):
    reg = login_on_manager(lab)
    on_manager("rm -rf /tmp/takeover")
    copy_to_manager(ROOT / "examples" / "stack", "/tmp/takeover")
    remove_stack(STACK)
    try:
        cli = on_manager("cd /tmp/takeover/stack && REGISTRY=%s docker stack deploy --detach=false "
                         "--with-registry-auth -c demo.yml %s" % (reg["address_in_lab"], STACK))
        assert cli.returncode == 0, cli.stdout
        before = running_tasks(manager)
        by_cli = services(manager, STACK)
        assert sorted(before) == ["takeover_api", "takeover_web"] and all(before.values()), before

        first = deploy(lab, STACK, "takeover-1")
        assert first.returncode == 0, first.stdout[-3000:]
        after = running_tasks(manager)
        taken = services(manager, STACK)
        print("tasks before: %s\ntasks after:  %s" % (before, after))
        assert after == before, "a task was restarted by the takeover"
        for name, service in taken.items():
            labels = service["Spec"]["Labels"]
            assert "conductor.swarm.spec-hash" in labels, name
            assert refs(service, "Configs", "ConfigName") == refs(by_cli[name], "Configs", "ConfigName")
            assert refs(service, "Secrets", "SecretName") == refs(by_cli[name], "Secrets", "SecretName")
        assert refs(taken["takeover_web"], "Configs", "ConfigName") == ["demo_app_conf_1"]  # its own name:
        assert refs(taken["takeover_web"], "Secrets", "SecretName") == ["takeover_app_token"]
        # The secret was compared the way the CLI's own redeploy does it, and labelled with its content hash.
        secret = json.loads(manager.check_output("docker secret inspect takeover_app_token"))[0]
        assert "conductor.swarm.content-hash" in secret["Spec"]["Labels"]

        second = deploy(lab, STACK, "takeover-2")
        assert second.returncode == 0, second.stdout[-3000:]
        assert changed_count(second.stdout) == 0, second.stdout[-3000:]
        assert running_tasks(manager) == before
    finally:
        remove_stack(STACK)
