"""Deploy tests on the lab: 3 bare hosts provisioned into a swarm, a registry
with credentials inside the lab, and the example app's images pushed to it.

The session fixture builds all of that once; each test deploys through
playbooks/deploy.yml exactly as a user would, and checks the swarm over SSH.
"""
import json
import os
import time
from pathlib import Path

import pytest
import testinfra
import yaml

import sys
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lab"))
import labenv  # noqa: E402
from labenv import INVENTORY, ROOT, install_collection, prepare, sh, write_deploy_vars  # noqa: E402

LOG_DIR = Path(os.environ.get("CONDUCTOR_LOG_DIR", ROOT / ".build" / "logs" / "deploy"))
STACK_FILE = ROOT / "examples" / "stack" / "demo.yml"


@pytest.fixture(scope="session")
def installed():
    """The collection built into a tarball and installed offline into a fresh collections path."""
    return install_collection(ROOT / ".build" / "installed")


@pytest.fixture(scope="session")
def lab(installed):
    """A 3-host lab provisioned by conductor.swarm.provision from the installed copy, with the
    registry up and the app images in it."""
    return prepare(LOG_DIR, installed=installed, edge=True)


@pytest.fixture(scope="session")
def manager(lab):
    with open(INVENTORY) as f:
        inv = yaml.safe_load(f)
    name = list(inv["all"]["children"]["managers"]["hosts"])[0]
    return testinfra.get_host("ansible://%s?ansible_inventory=%s" % (name, INVENTORY))


def deploy(lab, stack, name, *extra, variables=None, files=None, check=False, verbose=True):
    """Run playbooks/deploy.yml like a user; keep the -vvv output for the secret checks."""
    evars_file = write_deploy_vars(LOG_DIR / ("vars-%s.json" % name), lab, stack, files or [STACK_FILE], variables)
    cmd = ["ansible-playbook", "playbooks/deploy.yml", "-e", "@%s" % evars_file]
    if verbose:
        cmd.append("-vvv")
    if check:
        cmd += ["--check", "--diff"]
    cmd += list(extra)
    start = time.monotonic()
    proc = sh(cmd, timeout=900)
    proc.seconds = time.monotonic() - start
    (LOG_DIR / ("deploy-%s.log" % name)).write_text(proc.stdout)
    return proc


def start_deploy(lab, stack, name, files=(STACK_FILE,), variables=None, **more):
    """playbooks/deploy.yml in the background (labenv.start_deploy); more: extra vars."""
    evars = write_deploy_vars(LOG_DIR / ("vars-%s.json" % name), lab, stack, list(files), variables, **more)
    return labenv.start_deploy(evars, LOG_DIR / ("deploy-%s.log" % name))


def services(manager, stack):
    """{name: service} as `docker service inspect` shows them."""
    ids = manager.check_output("docker service ls -q --filter label=com.docker.stack.namespace=%s" % stack).split()
    if not ids:
        return {}
    return dict((s["Spec"]["Name"], s) for s in json.loads(manager.check_output(
        "docker service inspect %s" % " ".join(ids))))
