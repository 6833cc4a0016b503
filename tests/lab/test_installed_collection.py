"""The collection as users get it: `ansible-galaxy collection build`, installed offline
from the tarball into a fresh collections path, and run by fully qualified names
(conductor.swarm.provision, conductor.swarm.deploy) against the lab from that copy.

The session's lab fixture already provisioned the bare hosts that way; these tests
check it, then deploy from the installed copy.
"""
import re
import tarfile

import pytest

from conftest import INVENTORY, LOG_DIR, ROOT, STACK_FILE, services, write_deploy_vars
from labenv import remove_stack, run_installed

STACK = "installed"


def task_paths(output):
    """Where each task ran from, as ansible-playbook -vv prints it."""
    return re.findall(r"^task path: (\S+?):\d+$", output, re.M)


def recap(output):
    """{host: {ok, changed, failed, ...}} from the PLAY RECAP."""
    found = {}
    for host, counters in re.findall(r"^(\S+)\s+:\s+(ok=.*)$", output, re.M):
        found[host] = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", counters))
    return found


def test_the_tarball_ships_the_collection_and_none_of_the_dev_tree(installed):
    with tarfile.open(installed["tarball"]) as tar:
        names = set(tar.getnames())
    for needed in ("MANIFEST.json", "FILES.json", "README.md", "CHANGELOG.rst", "meta/runtime.yml",
                   "meta/execution-environment.yml", "meta/ee-requirements.txt", "meta/ee-bindep.txt",
                   "playbooks/provision.yml", "playbooks/deploy.yml",
                   "roles/stack/meta/argument_specs.yml", "roles/swarm_cluster/meta/argument_specs.yml",
                   "roles/docker_engine/meta/argument_specs.yml", "plugins/action/stack_deploy.py",
                   "plugins/modules/stack_deploy.py", "plugins/doc_fragments/docker.py",
                   "docs/awx.md", "examples/stack/demo.yml"):
        assert needed in names, needed
    leaked = sorted(n for n in names if re.match(
        r"(\.venv|\.lab|\.build|\.git|\.ci|lab|molecule|scripts|tests/output)(/|$)|inventories/lab/hosts\.yml$"
        r"|ansible\.cfg$|Makefile$|requirements\.(txt|in)$|.*__pycache__", n))
    assert leaked == []


def test_the_installed_copy_is_the_only_conductor_swarm_in_view(installed):
    proc = run_installed(installed, ["ansible-galaxy", "collection", "list", "conductor.swarm"])
    assert proc.returncode == 0, proc.stdout
    assert re.findall(r"^# (\S+)$", proc.stdout, re.M) == [str(installed["collections"] / "ansible_collections")]
    assert "conductor.swarm" in proc.stdout
    # the dependency came from what was installed, not from Galaxy
    assert "community.docker" in installed["install_log"] and "already installed" in installed["install_log"]


def test_bare_hosts_were_provisioned_by_fqcn_from_the_installed_copy(lab, installed):
    if not lab["provisioned_bare_hosts"]:
        # make test always starts from a destroyed lab, so this runs there
        pytest.skip("the lab was already provisioned before this session: run `make lab-destroy` first")
    log = (LOG_DIR / "prepare-provision.log").read_text()
    paths = task_paths(log)
    assert len(paths) > 20, log[-3000:]
    outside = [p for p in paths if not p.startswith(str(installed["path"]) + "/")]
    assert outside == []
    assert {p.split("/roles/")[1].split("/")[0] for p in paths if "/roles/" in p} == {
        "docker_engine", "swarm_cluster"}
    counts = recap(log)
    assert sorted(counts) == ["lab-1", "lab-2", "lab-3"]
    assert all(c["failed"] == 0 and c["unreachable"] == 0 for c in counts.values()), counts
    assert counts["lab-1"]["changed"] > 0  # bare hosts: it really installed and built things


def test_provisioning_again_from_the_installed_copy_changes_nothing(lab, installed):
    proc = run_installed(installed, ["ansible-playbook", "-i", INVENTORY, "conductor.swarm.provision"], timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:]
    counts = recap(proc.stdout)
    assert sorted(counts) == ["lab-1", "lab-2", "lab-3"]
    assert all(c["changed"] == 0 and c["failed"] == 0 for c in counts.values()), counts


@pytest.fixture()
def installed_stack(lab):
    remove_stack(STACK)
    yield STACK
    remove_stack(STACK)


def test_deploy_by_fqcn_from_the_installed_copy_converges_and_reruns_clean(lab, installed, manager, installed_stack):
    evars = write_deploy_vars(LOG_DIR / "vars-installed.json", lab, installed_stack, [STACK_FILE])
    cmd = ["ansible-playbook", "-vv", "-i", INVENTORY, "conductor.swarm.deploy", "-e", "@%s" % evars]
    proc = run_installed(installed, cmd, timeout=900)
    (LOG_DIR / "deploy-installed.log").write_text(proc.stdout)
    assert proc.returncode == 0, proc.stdout[-4000:]
    paths = task_paths(proc.stdout)
    assert all(p.startswith(str(installed["path"]) + "/") for p in paths), paths
    assert str(installed["path"] / "roles" / "stack" / "tasks" / "main.yml") in paths
    assert "installed_web: 3/3 updated, 3/3 running, 3/3 healthy" in proc.stdout
    live = services(manager, installed_stack)
    assert sorted(live) == ["installed_api", "installed_web"]

    again = run_installed(installed, cmd[:1] + cmd[2:], timeout=900)
    assert again.returncode == 0, again.stdout[-4000:]
    assert [c["changed"] for c in recap(again.stdout).values()] == [0]
    assert str(ROOT / "roles") not in again.stdout
