"""Shared fixtures for the lab scenarios: the inventory as it is now, a handle on
the first manager, and a way to run provision.yml with a changed inventory."""
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import testinfra
import yaml

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
INVENTORY = PROJECT / "inventories" / "lab" / "hosts.yml"
LOG_DIR = Path(os.environ.get("CONDUCTOR_LOG_DIR", PROJECT / ".build" / "logs"))


def load_inventory():
    with open(INVENTORY) as f:
        return yaml.safe_load(f)


def group(inv, name):
    return list(((inv["all"]["children"].get(name) or {}).get("hosts") or {}).keys())


def lab_host(name):
    return testinfra.get_host("ansible://%s?ansible_inventory=%s" % (name, INVENTORY))


@pytest.fixture
def inventory():
    return load_inventory()


@pytest.fixture
def manager(inventory):
    return lab_host(group(inventory, "managers")[0])


def node_snapshot(manager_host):
    """What a refused run must not change: each node's role, availability, labels."""
    ids = manager_host.check_output("docker node ls -q").split()
    nodes = json.loads(manager_host.check_output("docker node inspect %s" % " ".join(ids)))
    return {n["Description"]["Hostname"]: (n["Spec"]["Role"], n["Spec"]["Availability"], n["Spec"].get("Labels") or {})
            for n in nodes}


def run_provision(inv, name, *extra):
    """Run provision.yml at -vvv against a changed copy of the inventory; keep the log."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    path = LOG_DIR / ("inventory-%s.yml" % name)
    path.write_text(yaml.safe_dump(inv, sort_keys=False))
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(["ansible-playbook", "-vvv", "-i", str(path), "playbooks/provision.yml", *extra],
                          check=False, cwd=str(PROJECT), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=900)
    (LOG_DIR / ("provision-%s.log" % name)).write_text(proc.stdout)
    return proc


def wait_until(what, condition, timeout=90, interval=2):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)
