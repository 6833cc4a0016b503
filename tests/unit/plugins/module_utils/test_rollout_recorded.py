"""The state machine fed with task lists recorded from real lab rollouts.

Recordings: fixtures/rollout/recorded/, made by tests/tools/record_rollouts.py
from the -vvv logs of tests/lab deploys (the last two polls of each rollout).
"""
import json
import os

import pytest

from ansible_collections.conductor.swarm.plugins.module_utils import rollout_state as rs

RECORDED = os.path.join(os.path.dirname(__file__), "fixtures", "rollout", "recorded")


def replay(name, monitor=5):
    with open(os.path.join(RECORDED, name + ".json")) as f:
        rec = json.load(f)
    previous, results = {}, {}
    for poll in rec["polls"]:
        rs.annotate_health(poll["tasks"])
        by_service = {}
        for task in poll["tasks"]:
            by_service.setdefault(task["ServiceID"], []).append(task)
        for service in poll["services"]:
            svc = service["Spec"]["Name"]
            if svc not in rec["target_versions"]:
                continue
            results[svc] = rs.assess_service(
                service, by_service.get(service["ID"], []), rec["target_versions"][svc], poll["now"],
                rec["started_at"], monitor, rec["started_at"] + 300, nodes=poll["nodes"],
                previous=previous.get(svc))
            previous[svc] = results[svc]
    return results


def test_recorded_update_converges():
    web = replay("update-converged", monitor=0)["demo_web"]
    assert web["verdict"] == rs.CONVERGED
    assert (web["updated"], web["running"], web["healthy"], web["desired"]) == (3, 3, 3, 3)
    assert web["failures"] == []


def test_recorded_crash_is_rolled_back_with_exit_code():
    web = replay("exits-rolled-back")["demo_web"]
    assert web["verdict"] == rs.ROLLED_BACK
    assert web["reason"].endswith("the new spec failed: exit code 1")
    assert web["failures"] and web["failures"][-1]["exit_code"] == 1


def test_recorded_missing_image_names_the_image():
    web = replay("missing-image-rolled-back")["demo_web"]
    assert web["verdict"] == rs.ROLLED_BACK
    assert "demo-app:9.9.9-does-not-exist cannot be pulled: No such image" in web["reason"]


def test_recorded_unhealthy_release_says_the_healthcheck_never_passed():
    web = replay("unhealthy-rolled-back")["demo_web"]
    assert web["verdict"] == rs.ROLLED_BACK
    assert "healthcheck never passed" in web["reason"], web["reason"]


@pytest.mark.parametrize("name", ["exits-rolled-back", "missing-image-rolled-back", "unhealthy-rolled-back"])
def test_a_recorded_rollback_is_never_success(name):
    results = replay(name)
    assert rs.assess_stack(results.values())["verdict"] in (rs.ROLLED_BACK, rs.FAILED)
