"""Faults injected by the tests themselves, on the real lab.

- Two deploys of one stack at once, as two controllers or two AWX jobs start them. The first run holds
  the config conductor-lock-<stack> on the swarm. A second run fails at once naming it, or waits for it
  (stack_lock_wait) and runs after it. One that breaks it (stack_lock_break) supersedes the first, which
  says so and leaves the second's spec alone.
- ansible-playbook SIGKILLed mid-rollout: its lock stays, named to the next run; a run that breaks it
  tracks the rollout the killed one left to its end.
- The manager's Docker API gone for a few seconds mid-rollout (its socket moved aside, then back: the
  engine and the swarm keep running, only the API is out of reach, as when an engine restarts):
  tracking retries, and the rollout converges.
- A worker host frozen (docker pause) just as a rollout starts: Swarm places the new tasks on the hosts
  left and the rollout completes there, long before the deadline.

The tests share one stack and run in file order.
"""
import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import STACK_FILE, deploy, services, start_deploy
from labenv import ROOT, finish, lab_hosts, on_manager, remove_stack, wait_for

SLOW = ROOT / "tests" / "lab" / "compose" / "web-slow-update.yml"
STACK = "faults"
SOCKET = "/var/run/docker.sock"
LOCK = "conductor-lock-" + STACK
pytestmark = pytest.mark.usefixtures("lab", "first_version")


@pytest.fixture(scope="module")
def first_version(lab):
    remove_stack(STACK)
    proc = deploy(lab, STACK, "faults-first", verbose=False)
    assert proc.returncode == 0, proc.stdout[-4000:]
    yield
    on_manager("test -S {s} || mv {s}.cut {s}".format(s=SOCKET))  # never leave the API cut
    remove_stack(STACK)
    on_manager("docker config rm %s 2>/dev/null || true" % LOCK)


def lock_holder():
    """The lock's labels on the swarm, or None when no run holds it."""
    out = on_manager("docker config inspect %s 2>/dev/null || true" % LOCK).stdout.strip()
    found = json.loads(out) if out.startswith("[") else []
    return found[0]["Spec"]["Labels"] if found else None


def web_image(manager):
    return services(manager, STACK)[STACK + "_web"]["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]


def running_images(manager):
    out = manager.check_output("docker service ps --no-trunc --filter desired-state=running "
                               "--format '{{.Image}} {{.CurrentState}}' %s_web" % STACK)
    return sorted(set(line.split()[0] for line in out.splitlines() if line.strip()))


def test_a_second_run_fails_naming_the_first_and_a_run_that_waits_goes_after_it(lab, manager):
    digest = lab["digests"]
    # The slow update takes about 45 s: the other runs come meanwhile.
    first = start_deploy(lab, STACK, "faults-a", variables={"WEB_VERSION": "2.0.0"}, files=(STACK_FILE, SLOW))
    holder = wait_for("the first run to take the lock", lock_holder)
    before = dict((n, s["Version"]["Index"]) for n, s in services(manager, STACK).items())
    second = deploy(lab, STACK, "faults-b", variables={"WEB_VERSION": "1.0.0"}, verbose=False)
    assert second.returncode != 0, second.stdout[-3000:]
    assert "nothing was changed: stack %s is being deployed by %s (run %s)" % (
        STACK, holder["conductor.swarm.lock.owner"], holder["conductor.swarm.lock.run"]) in second.stdout
    assert "stack_lock_wait" in second.stdout and "stack_lock_break=true" in second.stdout
    assert "rolling out" not in second.stdout  # the apply stopped at the lock: no plan, no tracking
    # The refused run sent nothing: only the first one's update moved the services' versions, if anything did.
    after = services(manager, STACK)
    assert not [n for n, s in after.items() if s["Version"]["Index"] != before[n]
                and not s["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"].endswith(digest["conductor/demo-app:2.0.0"])]
    third = start_deploy(lab, STACK, "faults-c", variables={"WEB_VERSION": "1.0.0"}, stack_lock_wait=300)
    code, out = finish(first)
    assert code == 0, out[-4000:]
    assert "%s_web: 3/3 updated, 3/3 running, 3/3 healthy" % STACK in out
    code, out = finish(third)
    assert code == 0, out[-4000:]
    # Its first try is its first line: the seconds it says are those that try took.
    assert re.search(r"stack %s: waiting for the lock \(\ds of 300s\): %s deploys it" % (
        STACK, re.escape(holder["conductor.swarm.lock.owner"])), out), out[-4000:]
    assert web_image(manager).endswith(digest["conductor/demo-app:1.0.0"])
    assert running_images(manager) == [web_image(manager)]
    assert lock_holder() is None


def test_a_run_that_breaks_the_lock_supersedes_the_first_which_says_so_and_leaves_it_alone(lab, manager):
    digest = lab["digests"]
    first = start_deploy(lab, STACK, "faults-d", variables={"WEB_VERSION": "2.0.0"}, files=(STACK_FILE, SLOW))
    wait_for("the first run to take the lock", lock_holder)
    wait_for("the first run's update", lambda: web_image(manager).endswith(digest["conductor/demo-app:2.0.0"]))
    time.sleep(1)
    second = deploy(lab, STACK, "faults-e", "-e", "stack_lock_break=true", variables={"WEB_VERSION": "1.0.0"},
                    verbose=False)
    assert second.returncode == 0, second.stdout[-4000:]
    assert "stack %s: broke the lock of " % STACK in second.stdout
    code, out = finish(first)
    assert code != 0, out[-4000:]
    assert "superseded" in out
    assert "%s_web: left as it is: someone else changed its spec since this deploy" % STACK in out
    assert web_image(manager).endswith(digest["conductor/demo-app:1.0.0"])
    wait_for("every running task on 1.0.0", lambda: running_images(manager) == [web_image(manager)], timeout=60)
    assert lock_holder() is None


def test_a_killed_runs_lock_is_named_to_the_next_run_and_breaking_it_picks_up_the_rollout_it_left(lab, manager):
    digest = lab["digests"]
    killed = start_deploy(lab, STACK, "faults-f", variables={"WEB_VERSION": "2.0.0"}, files=(STACK_FILE, SLOW))
    holder = wait_for("the run to take the lock", lock_holder)
    wait_for("the run's update", lambda: web_image(manager).endswith(digest["conductor/demo-app:2.0.0"]))
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait(timeout=30)
    assert lock_holder() == holder  # a SIGKILLed run releases nothing
    nxt = deploy(lab, STACK, "faults-g", variables={"WEB_VERSION": "2.0.0"}, files=[STACK_FILE, SLOW], verbose=False)
    assert nxt.returncode != 0 and "is being deployed by %s" % holder["conductor.swarm.lock.owner"] in nxt.stdout
    broke = deploy(lab, STACK, "faults-h", "-e", "stack_lock_break=true", variables={"WEB_VERSION": "2.0.0"},
                   files=[STACK_FILE, SLOW], verbose=False)
    assert broke.returncode == 0, broke.stdout[-4000:]
    assert "broke the lock of %s (run %s, stack_lock_break)" % (
        holder["conductor.swarm.lock.owner"], holder["conductor.swarm.lock.run"]) in broke.stdout
    # The files match the swarm now, but the killed run's update was still rolling: this run tracked it to its end.
    assert "%s_web: its update to this spec is still rolling out (an earlier run's): tracking it" % STACK in broke.stdout
    assert "%s_web: 3/3 updated, 3/3 running, 3/3 healthy" % STACK in broke.stdout
    assert web_image(manager).endswith(digest["conductor/demo-app:2.0.0"])
    assert running_images(manager) == [web_image(manager)]
    assert lock_holder() is None


def test_the_managers_api_gone_for_8_s_mid_rollout_is_retried_and_the_rollout_converges(lab, manager):
    run = start_deploy(lab, STACK, "faults-api-cut", files=(STACK_FILE, SLOW), variables={"WEB_VERSION": "1.0.0"})
    # This run's update: its image in the spec (the last one's "updating" can outlast its tracking by Swarm's monitor).
    wait_for("the update to start", lambda: web_image(manager).endswith(lab["digests"]["conductor/demo-app:1.0.0"]))
    cut = on_manager("mv {s} {s}.cut && sleep 8 && mv {s}.cut {s}".format(s=SOCKET))
    assert cut.returncode == 0, cut.stdout
    code, out = finish(run)
    assert code == 0, out[-4000:]
    assert "lost contact with the manager (" in out and "retrying for up to 30s" in out, out[-4000:]
    assert "the manager answers again after" in out
    assert "%s_web: 3/3 updated, 3/3 running, 3/3 healthy" % STACK in out
    assert web_image(manager).endswith(lab["digests"]["conductor/demo-app:1.0.0"])
    assert running_images(manager) == [web_image(manager)]


def node_state(host):
    return on_manager("docker node inspect %s --format '{{.Status.State}}'" % host).stdout.strip()


def test_a_worker_lost_mid_rollout_is_decided_long_before_the_deadline(lab, manager):
    worker = lab_hosts()[-1]
    run = start_deploy(lab, STACK, "faults-worker-lost", files=(STACK_FILE, SLOW), variables={"WEB_VERSION": "2.0.0"})
    wait_for("the update to start", lambda: web_image(manager).endswith(lab["digests"]["conductor/demo-app:2.0.0"]))
    subprocess.run(["docker", "pause", worker], check=True, capture_output=True)
    paused = time.monotonic()
    try:
        code, out = finish(run)
        took = time.monotonic() - paused
    finally:
        subprocess.run(["docker", "unpause", worker], check=False, capture_output=True)
        wait_for("%s ready again" % worker, lambda: node_state(worker) == "ready", timeout=120)
    # Swarm places the update's tasks on the hosts left: the rollout completes there, long before the 300 s
    # deadline (and were it stuck on the lost host's task, the tracker would fail it 60 s after it last moved).
    assert code == 0, out[-4000:]
    assert took < 120, "decided %.0fs after the pause" % took
    assert "%s_web: 3/3 updated, 3/3 running, 3/3 healthy (converged" % STACK in out, out[-4000:]
    assert web_image(manager).endswith(lab["digests"]["conductor/demo-app:2.0.0"])
    assert running_images(manager) == [web_image(manager)]
    assert lock_holder() is None
