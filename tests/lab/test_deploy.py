"""stack_deploy on the lab, through playbooks/deploy.yml, as a user runs it.

The tests share one stack and run in file order: each starts from the state
the previous one left (pytest runs a file's tests in order).
"""
import base64
import json
import re
import time

import pytest

from conftest import LOG_DIR, ROOT, deploy, services, sh
from labenv import remove_stack

STACK = "demo"
pytestmark = pytest.mark.usefixtures("lab", "fresh_stack")


@pytest.fixture(scope="module")
def fresh_stack(lab):
    """Start from no stack, as a first deploy does."""
    remove_stack(STACK)


def container_specs(manager):
    return dict((name, s["Spec"]["TaskTemplate"]["ContainerSpec"]) for name, s in services(manager, STACK).items())


def running_task_images(manager, service):
    out = manager.check_output("docker service ps --filter desired-state=running --format '{{.ID}}' %s" % service)
    tasks = json.loads(manager.check_output("docker inspect %s" % " ".join(out.split()))) if out.split() else []
    return [(t["Status"]["State"], t["Spec"]["ContainerSpec"]["Image"],
             sorted(t["Spec"]["ContainerSpec"].get("Env") or [])) for t in tasks]


def assert_serving(manager, before):
    """Every service runs its `before` container spec on every task, all running."""
    live = container_specs(manager)
    assert set(live) == set(before)
    for name, spec in before.items():
        assert live[name]["Image"] == spec["Image"], name
        assert sorted(live[name].get("Env") or []) == sorted(spec.get("Env") or []), name
        tasks = running_task_images(manager, name)
        assert tasks, name
        for state, image, env in tasks:
            assert (state, image, env) == ("running", spec["Image"], sorted(spec.get("Env") or [])), name


def test_first_deploy_converges_and_stack_info_reports_it(lab, manager):
    proc = deploy(lab, STACK, "first")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "demo_web: 3/3 updated, 3/3 running, 3/3 healthy" in proc.stdout
    live = services(manager, STACK)
    assert sorted(live) == ["demo_api", "demo_web"]
    for name, service in live.items():
        image = service["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
        assert re.search(r"@sha256:[0-9a-f]{64}$", image), "image not pinned by digest: %s" % image
        assert service["Spec"]["Labels"]["com.docker.stack.namespace"] == STACK
    # stack_info, as a user calls it
    proc = sh(["ansible", "managers[0]", "-m", "conductor.swarm.stack_info", "-a", "name=%s" % STACK, "-o"],
              timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:]
    summary = json.loads(proc.stdout.split("=>", 1)[1])
    by_name = dict((s["name"], s) for s in summary["services"])
    assert by_name["demo_web"]["healthy"] == by_name["demo_web"]["desired"] == 3
    assert by_name["demo_api"]["healthy"] == by_name["demo_api"]["desired"] == 2
    assert by_name["demo_web"]["update_state"] in (None, "completed")


def test_redeploying_unchanged_files_changes_nothing(lab, manager):
    before = dict((n, (s["Version"]["Index"], s["UpdatedAt"])) for n, s in services(manager, STACK).items())
    proc = deploy(lab, STACK, "unchanged")
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert re.search(r"ok=\d+\s+changed=0\s", proc.stdout), proc.stdout[-2000:]
    after = dict((n, (s["Version"]["Index"], s["UpdatedAt"])) for n, s in services(manager, STACK).items())
    assert after == before


def test_check_mode_reports_the_change_and_changes_nothing(lab, manager):
    before = dict((n, s["Version"]["Index"]) for n, s in services(manager, STACK).items())
    proc = deploy(lab, STACK, "check", variables={"WEB_VERSION": "2.0.0"}, check=True)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "demo_web (files)" in proc.stdout and "TaskTemplate.ContainerSpec.Image" in proc.stdout
    assert dict((n, s["Version"]["Index"]) for n, s in services(manager, STACK).items()) == before


def test_new_version_rolls_out(lab, manager):
    proc = deploy(lab, STACK, "v2", variables={"WEB_VERSION": "2.0.0"})
    assert proc.returncode == 0, proc.stdout[-4000:]
    image = services(manager, STACK)["demo_web"]["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    assert image.endswith(lab["digests"]["conductor/demo-app:2.0.0"])
    assert all(t[0] == "running" and t[1] == image for t in running_task_images(manager, "demo_web"))


def stack_configs(manager):
    ids = manager.check_output("docker config ls -q --filter label=com.docker.stack.namespace=%s" % STACK).split()
    return set(c["Spec"]["Name"] for c in json.loads(manager.check_output("docker config inspect %s" % " ".join(ids))))


def config_refs(manager):
    """Config names the services use now (Spec) and would roll back to (PreviousSpec)."""
    refs = set()
    for service in services(manager, STACK).values():
        for spec in (service["Spec"], service.get("PreviousSpec") or {}):
            container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
            refs.update(c["ConfigName"] for c in container.get("Configs") or [])
    return refs


def test_changed_config_rolls_out_and_old_versions_are_pruned(lab, manager, tmp_path):
    base = ROOT / "examples" / "stack" / "demo.yml"
    original = stack_configs(manager)
    for text in ("greeting=changed by a test\n", "greeting=changed again\n"):
        conf = tmp_path / "app.conf"
        conf.write_text(text)
        override = tmp_path / "config-change.yml"
        override.write_text("version: '3.8'\nconfigs:\n  app_conf:\n    file: %s\n" % conf)
        proc = deploy(lab, STACK, "config", "-e", "stack_keep_versions=0", variables={"WEB_VERSION": "2.0.0"},
                      files=[base, override])
        assert proc.returncode == 0, proc.stdout[-4000:]
    live = services(manager, STACK)
    refs = [c["ConfigName"] for s in live.values()
            for c in s["Spec"]["TaskTemplate"]["ContainerSpec"].get("Configs") or []]
    assert refs and all(r.startswith("demo_app_conf_") for r in refs)
    content = manager.check_output("docker config inspect --format '{{json .Spec.Data}}' %s" % refs[0])
    assert base64.b64decode(json.loads(content)).decode() == "greeting=changed again\n"
    # Kept: what services use and would roll back to; the original version is gone.
    remaining = stack_configs(manager)
    assert remaining == config_refs(manager)
    assert not (original & remaining), "unused versions were not removed: %s" % (original & remaining)


def test_a_service_edited_by_hand_shows_as_drift(lab, manager):
    manager.check_output("docker service update --detach --env-add EDITED_BY_HAND=1 demo_api")
    proc = deploy(lab, STACK, "drift", variables={"WEB_VERSION": "2.0.0"}, check=True)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "edited by hand since the last deploy (drift)" in proc.stdout
    assert "demo_api" in proc.stdout
    # A real deploy puts the files' spec back.
    proc = deploy(lab, STACK, "undrift", variables={"WEB_VERSION": "2.0.0"})
    assert proc.returncode == 0, proc.stdout[-4000:]
    env = services(manager, STACK)["demo_api"]["Spec"]["TaskTemplate"]["ContainerSpec"].get("Env") or []
    assert "EDITED_BY_HAND=1" not in env


COMPOSE = ROOT / "tests" / "lab" / "compose"
BROKEN = {
    # name: (variables, overrides, extra -e, reason the failure must give)
    "missing-image": ({"WEB_VERSION": "9.9.9-does-not-exist"}, [], ["stack_resolve_image=never"],
                      r"demo_web (failed|rolled back): .*(cannot be pulled|No such image|manifest unknown|not found)"),
    "exits": ({"WEB_VERSION": "2.0.0"}, [COMPOSE / "web-crash.yml"], [],
              r"demo_web (failed|rolled back): .*exit code 1"),
    "unhealthy": ({"WEB_VERSION": "2.0.0"}, [COMPOSE / "web-unhealthy.yml"], [],
                  r"demo_web (failed|rolled back): .*(healthcheck|unhealthy)"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_release_fails_with_reason_and_logs_and_rolls_back(lab, manager, kind):
    variables, overrides, extra, reason = BROKEN[kind]
    before = container_specs(manager)
    args = ["-e", "stack_service_deadline=60", "-e", "stack_deadline=90"]
    for e in extra:
        args += ["-e", e]
    files = [ROOT / "examples" / "stack" / "demo.yml"] + overrides
    proc = deploy(lab, STACK, "broken-%s" % kind, *args, variables=variables, files=files)
    assert proc.returncode != 0, proc.stdout[-4000:]
    out = proc.stdout
    assert re.search(reason, out), out[-4000:]
    assert "was rolled back: the stack is back on the previous version" in out, out[-4000:]
    # Useful logs: the failing task's own last lines are in the output.
    if kind == "exits":
        assert "last log lines of task" in out and "CRASH" in out, out[-4000:]
    if kind == "unhealthy":
        assert "last log lines of task" in out and "HEALTH=fail" in out, out[-4000:]
    assert proc.seconds < 90 + 60, "took %.0fs" % proc.seconds
    assert_serving(manager, before)


def test_missing_image_is_refused_before_touching_the_swarm(lab, manager):
    before = dict((n, s["Version"]["Index"]) for n, s in services(manager, STACK).items())
    proc = deploy(lab, STACK, "refused-image", variables={"WEB_VERSION": "9.9.9-does-not-exist"})
    assert proc.returncode != 0
    assert "cannot be resolved from their registry, nothing was changed" in proc.stdout
    assert dict((n, s["Version"]["Index"]) for n, s in services(manager, STACK).items()) == before


def test_bad_compose_file_is_refused_and_changes_nothing(lab, manager, tmp_path):
    before = dict((n, s["Version"]["Index"]) for n, s in services(manager, STACK).items())
    bad = tmp_path / "bad.yml"
    bad.write_text("version: '3.8'\nservices:\n  web:\n    image: x\n    deploy:\n      replicas: many\n")
    proc = deploy(lab, STACK, "bad-compose", files=[bad])
    assert proc.returncode != 0
    assert "nothing was changed" in proc.stdout
    assert dict((n, s["Version"]["Index"]) for n, s in services(manager, STACK).items()) == before


def test_a_deploy_aimed_at_a_worker_names_it_and_the_managers_and_changes_nothing(lab, manager):
    before = dict((n, s["Version"]["Index"]) for n, s in services(manager, STACK).items())
    proc = deploy(lab, STACK, "on-worker", "-e", "deploy_manager=lab-2")
    out = " ".join(proc.stdout.split())
    assert proc.returncode != 0
    assert re.search(r"this host is a worker of its swarm \(node \w+\), not a manager; run this module on a manager: "
                     r"[\d.]+:2377 \(a host of the inventory's managers group\)", out), proc.stdout[-3000:]
    assert dict((n, s["Version"]["Index"]) for n, s in services(manager, STACK).items()) == before


def test_a_deploy_the_swarm_refuses_half_way_is_undone(lab, manager, tmp_path):
    """The Engine refuses the second service after the network, the config and the first service were made:
    the deploy fails and what it made goes, through the same rollback as a failed rollout."""
    stack = "refused"
    remove_stack(stack)
    # A service made by hand (no stack label) holds the name the stack's service b wants: Swarm refuses b.
    manager.run("docker service rm refused_b")
    manager.check_output("docker service create --detach --no-resolve-image --replicas 0 --name refused_b "
                         "lab-registry:5000/conductor/demo-app:1.0.0")
    (tmp_path / "app.conf").write_text("greeting = refused\n")
    compose = tmp_path / "refused.yml"
    image = "${REGISTRY:-lab-registry:5000}/conductor/demo-app:1.0.0"
    compose.write_text(
        "version: '3.8'\nservices:\n  a:\n    image: %s\n    networks: [backend]\n    configs:\n"
        "      - source: conf\n        target: /etc/demo-app/app.conf\n    deploy:\n      endpoint_mode: dnsrr\n"
        "  b:\n    image: %s\n    networks: [backend]\n    deploy:\n      endpoint_mode: dnsrr\n"
        "networks:\n  backend: {}\nconfigs:\n  conf:\n    file: ./app.conf\n" % (image, image))
    try:
        proc = deploy(lab, stack, "refused", files=[compose])
        out = " ".join(proc.stdout.split())
        assert proc.returncode != 0, proc.stdout[-3000:]
        assert "the swarm refused part of the deploy:" in out and "refused_b" in out, proc.stdout[-3000:]
        assert "undoing what this deploy had changed" in out
        found = re.search(r"deploy of stack refused failed and was rolled back: the stack is back on the previous "
                          r"version \(([^)]*)\)", out)
        assert found, proc.stdout[-3000:]
        undone = found.group(1).split(", ")
        assert "refused_a" in undone and "network refused_backend" in undone, undone
        assert [u for u in undone if u.startswith("config refused_conf_")], undone
        # Nothing of the stack is left; the service made by hand is as it was.
        assert services(manager, stack) == {}
        # Swarm lets go of a removed network once the removed tasks have detached from it.
        for _second in range(30):
            if manager.check_output("docker network ls -q --filter name=refused_backend") == "":
                break
            time.sleep(1)
        assert manager.check_output("docker network ls -q --filter name=refused_backend") == ""
        assert manager.check_output("docker config ls -q --filter label=com.docker.stack.namespace=%s" % stack) == ""
        assert manager.check_output("docker service inspect -f '{{.Spec.Mode.Replicated.Replicas}}' refused_b") == "0"
    finally:
        manager.run("docker service rm refused_b")
        remove_stack(stack)


def test_no_secret_reaches_any_output(lab):
    planted = [lab["password"], (ROOT / "examples" / "stack" / "secrets" / "app_token.txt").read_text().strip()]
    logs = sorted(LOG_DIR.glob("deploy-*.log"))
    assert len(logs) >= 5
    for path in logs:
        text = path.read_text(errors="replace")
        for secret in planted:
            assert secret not in text, "a secret leaked into %s" % path.name
