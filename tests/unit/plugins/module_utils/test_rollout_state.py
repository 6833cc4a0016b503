# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""rollout_state on recorded Docker Engine API answers.

The fixtures are shaped like GET /services/{id}, GET /tasks and GET /nodes
answers; "Health" on a task is what the poller adds from the container. Their
clock starts at T0, the moment the update was applied.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import os

import pytest

from ansible_collections.conductor.swarm.plugins.module_utils import rollout_state as rs
from ansible_collections.conductor.swarm.plugins.module_utils.edge.routing_state import STATE_LABEL

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "rollout")
T0 = rs.parse_timestamp("2024-05-14T09:30:00Z")
LAST_CHANGE = rs.parse_timestamp("2024-05-14T09:30:51.595942045Z")  # in web_update_healthy.tasks.json
MONITOR = 10
DEADLINE = T0 + 300


def load(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return json.load(handle)


def with_labels(service, **labels):
    """The service with extra spec labels (keyword names use _ for - and .)."""
    service = copy.deepcopy(service)
    for key, value in labels.items():
        service["Spec"]["Labels"]["conductor.swarm." + key.replace("_", "-")] = value
    return service


def assess(service, tasks, at, nodes="nodes_ready.json", previous=None, monitor=MONITOR,
           deadline=DEADLINE, target_version=None, started_at=T0, target_hash=None):
    """assess_service at T0 + at; fixture names are loaded, dicts used as they are."""
    service = load(service) if isinstance(service, str) else service
    tasks = load(tasks) if isinstance(tasks, str) else tasks
    nodes = load(nodes) if isinstance(nodes, str) else nodes
    if target_version is None:
        target_version = service["Version"]["Index"]
    return rs.assess_service(service, tasks, target_version, T0 + at, started_at, monitor, deadline,
                             nodes=nodes, previous=previous, target_hash=target_hash)


def converged_web(at=55, previous=None, monitor=MONITOR):
    return assess("web_update_completed.service.json", "web_update_healthy.tasks.json", at,
                  previous=previous, monitor=monitor)


# ------------------------------------------------------------------ basics ---

def test_parse_timestamp_reads_docker_nanosecond_times():
    assert rs.parse_timestamp("2024-05-14T09:30:01.500000000Z") == T0 + 1.5
    assert rs.parse_timestamp("2024-05-14T11:30:00+02:00") == T0
    assert rs.parse_timestamp("0001-01-01T00:00:00Z") is None
    assert rs.parse_timestamp("yesterday") is None
    assert rs.parse_timestamp(None) is None


def test_a_task_is_new_when_its_spec_matches_the_task_template():
    service = load("web_update.service.json")
    template = service["Spec"]["TaskTemplate"]
    tasks = load("web_update_starting.tasks.json")
    new = [t for t in tasks if rs.task_matches_template(t, template)]
    assert [t["Spec"]["ContainerSpec"]["Image"].split("@")[0] for t in new] == ["nginx:1.25.4"]

    task = copy.deepcopy(new[0])
    task["Spec"]["Placement"]["Constraints"] = ["node.role==manager"]
    assert rs.task_matches_template(task, template), "Swarm keeps tasks on constraint-only changes"
    del task["Spec"]["Resources"]["Reservations"]
    assert rs.task_matches_template(task, template), "an empty value and a missing one are the same"
    task["Spec"]["ForceUpdate"] = 1
    assert not rs.task_matches_template(task, template), "a forced update replaces the task"


def test_labels_default_to_fail_fast_and_two_failures():
    service = load("web_update.service.json")
    assert rs.read_fail_mode(service) == rs.FAIL_FAST
    assert rs.read_failures_allowed(service) == 2
    assert rs.read_fail_mode(with_labels(service, fail_mode=" Wait ")) == rs.WAIT
    assert rs.read_failures_allowed(with_labels(service, failures_allowed_per_replica="0")) == 0


@pytest.mark.parametrize("label, value, expected", [
    ("fail_mode", "explode", r"conductor\.swarm\.fail-mode.*fail-fast, wait, ignore"),
    ("fail_mode", "", r"conductor\.swarm\.fail-mode"),
    ("failures_allowed_per_replica", "-1", r"conductor\.swarm\.failures-allowed-per-replica.*0 or more"),
    ("failures_allowed_per_replica", "two", r"conductor\.swarm\.failures-allowed-per-replica"),
    ("failures_allowed_per_replica", "1.5", r"conductor\.swarm\.failures-allowed-per-replica"),
])
def test_bad_label_values_raise_value_error(label, value, expected):
    service = with_labels(load("worker_crash.service.json"), **{label: value})
    with pytest.raises(ValueError, match=expected):
        assess(service, "worker_crash_two.tasks.json", 10)


# ------------------------------------------------------ replicated rollout ---

def test_replicated_service_is_pending_while_the_healthcheck_starts():
    result = assess("web_update.service.json", "web_update_starting.tasks.json", 6)
    assert result["verdict"] == rs.PENDING
    assert (result["desired"], result["updated"], result["running"], result["healthy"]) == (3, 1, 1, 0)
    assert result["reason"] == "waiting for 1/3 updated, 1/3 running, 0/3 healthy, 2 old tasks still running"
    assert result["stable_since"] is None
    assert result["failures"] == []


def test_replicated_service_is_pending_inside_the_monitor_window_then_converges():
    # The window starts when the manager recorded the last task change (the third new
    # task running at T0 + 51.6), not when a poll first saw the service ready.
    first = converged_web(at=55)
    assert first["verdict"] == rs.PENDING
    assert first["reason"] == "stable for 3s of 10s"
    assert first["stable_since"] == LAST_CHANGE

    second = converged_web(at=58, previous=first)
    assert second["verdict"] == rs.PENDING
    assert second["reason"] == "stable for 6s of 10s"
    assert second["stable_since"] == LAST_CHANGE

    third = converged_web(at=62, previous=second)
    assert third["verdict"] == rs.CONVERGED
    assert third["reason"] == "3/3 healthy for 10s"
    assert (third["updated"], third["running"], third["healthy"]) == (3, 3, 3)


def test_the_window_never_starts_before_a_poll_saw_the_service_not_ready():
    # A node whose clock lags stamps its task early: what a poll saw bounds the window.
    tasks = load("web_update_healthy.tasks.json")
    tasks[-1]["Health"] = "starting"
    not_ready = assess("web_update_completed.service.json", tasks, 56)
    assert not_ready["stable_since"] is None and not_ready["not_ready_at"] == T0 + 56
    ready = converged_web(at=57, previous=not_ready)
    assert ready["stable_since"] == T0 + 56
    assert ready["verdict"] == rs.PENDING and ready["reason"] == "stable for 1s of 10s"


def test_the_window_never_starts_after_the_poll_that_saw_the_service_ready():
    # A node whose clock runs ahead stamps its task in the manager's future.
    tasks = load("web_update_healthy.tasks.json")
    tasks[-1]["Status"]["Timestamp"] = "2024-05-14T09:31:30Z"
    ready = assess("web_update_completed.service.json", tasks, 60)
    assert ready["stable_since"] == T0 + 60


def test_stability_resets_when_a_task_drops_between_polls():
    first = converged_web(at=55)
    tasks = load("web_update_healthy.tasks.json")
    tasks[-1]["ID"] = "replacedtask0000000000000"  # slot 3 died and Swarm replaced it
    tasks[-1]["Status"]["Timestamp"] = "2024-05-14T09:31:02Z"
    second = assess("web_update_completed.service.json", tasks, 63, previous=first)
    assert second["verdict"] == rs.PENDING
    assert second["stable_since"] == T0 + 62


def test_stability_resets_when_health_drops():
    first = converged_web(at=55)
    tasks = load("web_update_healthy.tasks.json")
    tasks[-1]["Health"] = "starting"
    dropped = assess("web_update_completed.service.json", tasks, 60, previous=first)
    assert dropped["stable_since"] is None
    assert dropped["reason"] == "waiting for 2/3 healthy"
    again = converged_web(at=66, previous=dropped)
    assert again["verdict"] == rs.PENDING
    # Healthy again by 66; the tasks' timestamps are older, so the poll that saw it drop bounds the window.
    assert again["stable_since"] == T0 + 60


OURS, THEIRS = "a1" * 32, "b2" * 32


def labelled(name, spec_hash, version, extra=None):
    """A service fixture carrying a spec hash label (and `extra` labels), at a given version."""
    service = with_labels(load(name), spec_hash=spec_hash)
    service["Spec"]["Labels"].update(extra or {})
    service["Version"]["Index"] = version
    return service


def test_a_service_someone_else_changed_after_this_run_is_superseded_not_converged():
    # Healthy on every task, but of a spec written after ours (version 1052 > 1049) with another hash.
    service = labelled("web_update_completed.service.json", THEIRS, 1052)
    result = assess(service, "web_update_healthy.tasks.json", 70, monitor=0, target_version=1049, target_hash=OURS)
    assert result["verdict"] == rs.FAILED and result["superseded"] is True
    assert result["reason"] == ("superseded: the service's spec was changed by someone else (version 1052, spec hash "
                                "b2b2b2b2b2b2), so this run's rollout cannot be judged")
    # Under fail mode ignore it is still flagged, so no rollback touches it.
    ignored = assess(with_labels(service, fail_mode="ignore"), "web_update_healthy.tasks.json", 70, monitor=0,
                     target_version=1049, target_hash=OURS)
    assert ignored["verdict"] == rs.IGNORED and ignored["superseded"] is True


@pytest.mark.parametrize("extra", [{}, {STATE_LABEL: '{"generation": 3}'}])
def test_a_newer_version_with_our_hash_is_still_ours(extra):
    # Swarm's update status and our own label-only updates (the edge's routing state) bump the version, not the hash.
    service = labelled("web_update_completed.service.json", OURS, 1052, extra)
    result = assess(service, "web_update_healthy.tasks.json", 70, monitor=0, target_version=1049, target_hash=OURS)
    assert result["verdict"] == rs.CONVERGED and result["superseded"] is False


def test_swarms_own_rollback_bumps_the_version_and_stays_a_rollback():
    # Swarm put PreviousSpec back: an older hash at a newer version, with a rollback update state.
    service = labelled("web_rollback.service.json", THEIRS, 1066)
    result = assess(service, "web_rollback.tasks.json", 12, target_version=1060, target_hash=OURS)
    assert result["verdict"] == rs.ROLLED_BACK and result["superseded"] is False


def test_without_a_target_hash_nothing_is_superseded():
    service = labelled("web_update_completed.service.json", THEIRS, 1052)
    result = assess(service, "web_update_healthy.tasks.json", 70, monitor=0, target_version=1049)
    assert result["verdict"] == rs.CONVERGED


def test_a_stale_read_of_the_service_stays_pending():
    # The manager answered with the version from before our update, whose
    # UpdateStatus belongs to an earlier rollout.
    result = assess("web_rollback.service.json", "web_rollback.tasks.json", 5, target_version=1070)
    assert result["verdict"] == rs.PENDING
    assert result["reason"] == "waiting for the manager to report service version 1070 (it reports 1066)"


# --------------------------------------------------------- global and jobs ---

def test_global_service_does_not_wait_for_a_node_that_is_down():
    first = assess("edge_global.service.json", "edge_global.tasks.json", 20, nodes="nodes_worker2_down.json")
    assert first["desired"] == 2
    assert (first["updated"], first["running"], first["healthy"]) == (2, 2, 2)
    # The last task change the manager recorded: T0 + 13.3.
    assert first["verdict"] == rs.PENDING and first["reason"] == "stable for 6s of 10s"
    done = assess("edge_global.service.json", "edge_global.tasks.json", 24, nodes="nodes_worker2_down.json",
                  previous=first)
    assert done["verdict"] == rs.CONVERGED


def test_global_service_without_node_list_waits_for_every_node_with_a_task():
    result = assess("edge_global.service.json", "edge_global.tasks.json", 20, nodes=None)
    assert result["desired"] == 3
    assert result["verdict"] == rs.PENDING
    assert "2/3 updated" in result["reason"] and "1 old task still running" in result["reason"]


def test_global_service_counts_only_nodes_its_constraints_allow():
    service = load("edge_global.service.json")
    service["Spec"]["TaskTemplate"]["Placement"]["Constraints"] = ["node.role == manager"]
    result = assess(service, "edge_global.tasks.json", 20, monitor=0)
    assert (result["desired"], result["running"]) == (1, 1)
    assert result["verdict"] == rs.CONVERGED


def test_without_a_service_healthcheck_health_from_the_image_still_counts():
    tasks = load("edge_global.tasks.json")
    tasks[-1]["Health"] = "starting"  # the image has a HEALTHCHECK of its own
    result = assess("edge_global.service.json", tasks, 20, nodes="nodes_worker2_down.json")
    assert (result["running"], result["healthy"]) == (2, 1)
    assert result["verdict"] == rs.PENDING


def test_replicated_job_is_pending_while_it_runs():
    result = assess("migrate_job.service.json", "migrate_job_running.tasks.json", 5)
    assert result["verdict"] == rs.PENDING
    assert (result["desired"], result["completed"], result["running"]) == (1, 0, 1)
    assert result["reason"] == "waiting for 0/1 completed"


def test_replicated_job_converges_as_soon_as_it_completes():
    result = assess("migrate_job.service.json", "migrate_job_complete.tasks.json", 18)
    assert result["verdict"] == rs.CONVERGED
    assert result["completed"] == 1
    assert result["reason"] == "1/1 completed"


def test_replicated_job_ignores_completions_of_an_earlier_iteration():
    tasks = load("migrate_job_complete.tasks.json")
    tasks[-1]["JobIteration"]["Index"] = 1062  # same spec, previous run of the job
    result = assess("migrate_job.service.json", tasks, 18)
    assert result["completed"] == 0
    assert result["verdict"] == rs.PENDING


# ---------------------------------------------------------------- failures ---

def test_an_image_that_does_not_exist_fails_fast_with_a_readable_reason():
    result = assess("api_bad_image.service.json", "api_bad_image.tasks.json", 18)
    assert result["verdict"] == rs.FAILED
    assert result["reason"] == (
        "replica 1 failed 3 times (2 allowed), last: image registry.example.com/shop/api:2.4.0-rc9 "
        "cannot be pulled: No such image: registry.example.com/shop/api:2.4.0-rc9")
    assert [f["state"] for f in result["failures"]] == ["rejected"] * 3
    assert all(f["exit_code"] is None and f["slot"] == 1 for f in result["failures"])


def test_a_crashing_container_within_the_allowance_is_still_pending():
    result = assess("worker_crash.service.json", "worker_crash_two.tasks.json", 17)
    assert result["verdict"] == rs.PENDING
    assert [f["exit_code"] for f in result["failures"]] == [1, 1]
    assert result["failures"][0]["reason"] == "exit code 1"
    assert result["reason"].endswith("; 2 failed tasks so far, last: exit code 1")


def test_a_crashing_container_beyond_the_allowance_fails_with_its_exit_code():
    result = assess("worker_crash.service.json", "worker_crash_three.tasks.json", 24)
    assert result["verdict"] == rs.FAILED
    assert result["reason"] == "replica 1 failed 3 times (2 allowed), last: exit code 1"
    assert set(f["task_id"] for f in result["failures"]) == set(
        t["ID"] for t in load("worker_crash_three.tasks.json") if t["Status"]["State"] == "failed")


def test_the_failure_allowance_comes_from_the_label():
    service = with_labels(load("worker_crash.service.json"), failures_allowed_per_replica="5")
    assert assess(service, "worker_crash_three.tasks.json", 24)["verdict"] == rs.PENDING
    strict = with_labels(load("worker_crash.service.json"), failures_allowed_per_replica="0")
    result = assess(strict, "worker_crash_two.tasks.json", 17)
    assert result["verdict"] == rs.FAILED
    assert result["reason"].startswith("replica 1 failed 2 times (0 allowed)")


def test_failures_from_before_this_rollout_do_not_count():
    result = assess("worker_crash.service.json", "worker_crash_three.tasks.json", 24, started_at=T0 + 20)
    assert result["failures"] == []
    assert result["verdict"] == rs.PENDING


def test_a_healthcheck_that_never_passes_fails_the_service():
    result = assess("web_unhealthy.service.json", "web_unhealthy.tasks.json", 70)
    assert result["verdict"] == rs.FAILED
    assert "healthcheck" in result["reason"]
    assert result["reason"].startswith("replica 1 failed 3 times (2 allowed)")
    reasons = [f["reason"] for f in result["failures"]]
    assert reasons == ["healthcheck failing (dockerexec: unhealthy container)"] * 2 + ["healthcheck failing"]
    assert result["failures"][-1]["state"] == "running"


def test_a_task_no_node_can_take_fails_after_thirty_seconds():
    waiting = assess("report_unschedulable.service.json", "report_unschedulable.tasks.json", 20)
    assert waiting["verdict"] == rs.PENDING
    assert waiting["failures"] == []
    stuck = assess("report_unschedulable.service.json", "report_unschedulable.tasks.json", 40)
    assert stuck["verdict"] == rs.FAILED
    assert stuck["reason"] == (
        "replica 1 cannot be scheduled: no suitable node (scheduling constraints not satisfied "
        "on 3 nodes) for more than 30s")


def test_fail_mode_wait_records_failures_and_fails_only_at_the_deadline():
    service = with_labels(load("worker_crash.service.json"), fail_mode="wait")
    before = assess(service, "worker_crash_three.tasks.json", 24)
    assert before["verdict"] == rs.PENDING
    assert len(before["failures"]) == 3
    assert "replica 1 failed 3 times (2 allowed), last: exit code 1" in before["reason"]

    at_deadline = assess(service, "worker_crash_three.tasks.json", 300)
    assert at_deadline["verdict"] == rs.FAILED
    assert at_deadline["reason"] == (
        "not converged within the deadline: 1/2 updated, 0/2 running, 0/2 healthy, 1 old task still running; "
        "replica 1 failed 3 times (2 allowed), last: exit code 1")


def test_fail_mode_wait_still_converges_when_the_service_recovers():
    service = with_labels(load("web_update_completed.service.json"), fail_mode="wait")
    tasks = load("web_update_healthy.tasks.json") + [
        t for t in load("worker_crash_three.tasks.json") if t["Status"]["State"] == "failed"]
    for task in tasks[-3:]:  # three crashes of the new web spec in slot 1
        task["Spec"] = copy.deepcopy(service["Spec"]["TaskTemplate"])
        task["ServiceID"] = service["ID"]
    first = assess(service, tasks, 55)
    done = assess(service, tasks, 65, previous=first)
    assert len(done["failures"]) == 3
    assert done["verdict"] == rs.CONVERGED


def test_fail_mode_ignore_reports_progress_but_never_judges():
    service = with_labels(load("worker_crash.service.json"), fail_mode="ignore")
    result = assess(service, "worker_crash_three.tasks.json", 24)
    assert result["verdict"] == rs.IGNORED
    assert result["reason"] == (
        "fail mode ignore, otherwise failed: replica 1 failed 3 times (2 allowed), last: exit code 1")
    assert (result["desired"], result["updated"], result["running"]) == (2, 1, 0)
    assert len(result["failures"]) == 3
    healthy = assess(with_labels(load("web_update_completed.service.json"), fail_mode="ignore"),
                     "web_update_healthy.tasks.json", 65, monitor=0)
    assert healthy["verdict"] == rs.IGNORED


# -------------------------------------------------------- Swarm's own moves ---

@pytest.mark.parametrize("fail_mode", ["fail-fast", "wait"])
def test_swarm_auto_rollback_is_rolled_back_never_success(fail_mode):
    service = with_labels(load("web_rollback.service.json"), fail_mode=fail_mode)
    first = assess(service, "web_rollback.tasks.json", 12, monitor=0)
    later = assess(service, "web_rollback.tasks.json", 200, monitor=0, previous=first)
    for result in (first, later):
        assert result["verdict"] == rs.ROLLED_BACK
        assert result["reason"] == ("Swarm rolled the update back (rollback_completed: rollback completed); "
                                    "the new spec failed: exit code 1")
    # The old spec is back and healthy, which still is no success.
    assert (later["running"], later["healthy"]) == (3, 3)


def test_a_finished_rollback_without_previous_spec_still_says_why_and_lists_the_failures():
    # Swarm clears PreviousSpec once its own rollback is done.
    service = load("web_rollback.service.json")
    service.pop("PreviousSpec", None)
    result = assess(service, "web_rollback.tasks.json", 12, monitor=0)
    assert result["verdict"] == rs.ROLLED_BACK
    assert result["reason"].endswith("the new spec failed: exit code 1")
    assert result["failures"] and all(f["exit_code"] == 1 for f in result["failures"])


def test_a_rollback_under_way_is_rolled_back_too():
    service = load("web_rollback.service.json")
    service["UpdateStatus"] = {"State": "rollback_started", "StartedAt": "2024-05-14T09:30:02.300000000Z",
                               "Message": "update rolled back due to failure or early termination of task x"}
    result = assess(service, "web_rollback.tasks.json", 3)
    assert result["verdict"] == rs.ROLLED_BACK
    assert "update rolled back due to failure or early termination of task x" in result["reason"]


def test_fail_mode_ignore_overrides_a_rollback():
    service = with_labels(load("web_rollback.service.json"), fail_mode="ignore")
    result = assess(service, "web_rollback.tasks.json", 12)
    assert result["verdict"] == rs.IGNORED
    assert result["reason"].startswith("fail mode ignore, otherwise rolled_back: ")


def test_an_update_swarm_paused_fails_with_its_message():
    result = assess("worker_paused.service.json", "worker_crash_two.tasks.json", 12)
    assert result["verdict"] == rs.FAILED
    assert result["reason"].startswith(
        "Swarm paused the update: update paused due to failure or early termination of task ")


# ---------------------------------------------------------------- deadline ---

def test_the_deadline_fails_a_service_that_has_not_converged():
    result = assess("web_update.service.json", "web_update_starting.tasks.json", 300)
    assert result["verdict"] == rs.FAILED
    assert result["reason"] == ("not converged within the deadline: 1/3 updated, 1/3 running, 0/3 healthy, "
                                "2 old tasks still running")


def test_the_deadline_fails_a_service_still_inside_its_monitor_window():
    tasks = load("web_update_healthy.tasks.json")
    tasks[-1]["Status"]["Timestamp"] = "2024-05-14T09:34:55Z"  # the last task healthy at T0 + 295
    first = assess("web_update_completed.service.json", tasks, 295)
    result = assess("web_update_completed.service.json", tasks, 300, previous=first)
    assert result["verdict"] == rs.FAILED
    assert result["reason"] == "not converged within the deadline: stable for 5s of 10s"


# ----------------------------------------------------------------- events ---

def test_events_tell_what_changed_and_are_empty_when_nothing_did():
    first = assess("web_update.service.json", "web_update_starting.tasks.json", 6)
    assert first["events"] == ["update updating: update in progress", "task 1 on manager-1: running (starting)"]

    same = assess("web_update.service.json", "web_update_starting.tasks.json", 9, previous=first)
    assert same["events"] == []

    moved = converged_web(at=55, previous=same)
    assert moved["events"] == [
        "update completed: update completed",
        "task 1 on manager-1: running (healthy)",
        "task 2 on worker-1: running (healthy)",
        "task 3 on worker-2: running (healthy)",
    ]


def test_failure_events_name_the_task_and_the_reason():
    first = assess("worker_crash.service.json", "worker_crash_two.tasks.json", 17)
    second = assess("worker_crash.service.json", "worker_crash_three.tasks.json", 24, previous=first)
    assert second["events"] == ["task 1 on manager-1 failed: exit code 1", "task 1 on manager-1: pending"]


def test_a_task_on_a_node_that_is_down_is_not_told_as_healthy():
    healthy = converged_web(at=55)
    down = assess("web_update_completed.service.json", "web_update_healthy.tasks.json", 56,
                  nodes="nodes_worker2_down.json", previous=healthy)
    # worker-2 stopped answering: its task's last report is no news of health, and it is not counted.
    assert down["events"] == ["task 3 on worker-2: running on a node that is down (not counted)"]
    assert (down["running"], down["healthy"]) == (2, 2)
    first = assess("web_update_completed.service.json", "web_update_healthy.tasks.json", 55,
                   nodes="nodes_worker2_down.json")
    assert "task 3 on worker-2: running (healthy)" not in first["events"]
    assert "task 1 on manager-1: running (healthy)" in first["events"]


def stalled_web(times, nodes="nodes_worker2_down.json", tasks="web_update_starting.tasks.json"):
    """The update seen at each of `times` (seconds past T0), each look the previous of the next."""
    result = None
    for at in times:
        result = assess("web_update.service.json", tasks if isinstance(tasks, str) else tasks(at), at,
                        nodes=nodes, previous=result)
    return result


def test_a_rollout_that_does_not_move_while_a_node_under_it_is_down_fails_after_60_s_not_at_the_deadline():
    assert stalled_web([6, 30, 65])["verdict"] == rs.PENDING  # 59 s without a move
    result = stalled_web([6, 30, 66])
    assert result["verdict"] == rs.FAILED
    assert result["reason"] == ("no progress for 60s while a node under it is down (task 3 on worker-2): Swarm does "
                                "not move on without that task")
    assert json.loads(json.dumps(result))["moved_at"] == T0 + 6  # survives the round trip as previous


def test_a_rollout_that_does_not_move_with_every_node_up_waits_for_the_deadline():
    assert stalled_web([6, 30, 66, 200], nodes="nodes_ready.json")["verdict"] == rs.PENDING


def test_a_rollout_that_moves_while_a_node_is_down_starts_its_60_s_again():
    starting = load("web_update_starting.tasks.json")
    moved = copy.deepcopy(starting)
    for task in moved:
        if task["ID"].startswith("5ysz8ozj"):
            task["Health"] = "healthy"  # its healthcheck passed at T0 + 40: one more healthy task
            task["Status"]["Timestamp"] = "2024-05-14T09:30:40Z"
    result = stalled_web([6, 40, 99], tasks=lambda at: starting if at < 40 else moved)
    assert result["verdict"] == rs.PENDING and result["moved_at"] == T0 + 40
    assert stalled_web([6, 40, 100], tasks=lambda at: starting if at < 40 else moved)["verdict"] == rs.FAILED


def test_an_assessment_survives_a_json_round_trip_as_previous():
    first = json.loads(json.dumps(converged_web(at=55)))
    second = converged_web(at=65, previous=first)
    assert second["verdict"] == rs.CONVERGED
    assert second["events"] == []


# ------------------------------------------------------------------ stack ---

def summary(name, verdict, reason="r"):
    return {"name": name, "verdict": verdict, "reason": reason}


@pytest.mark.parametrize("verdicts, expected", [
    ([rs.CONVERGED, rs.FAILED, rs.ROLLED_BACK, rs.PENDING], rs.FAILED),
    ([rs.CONVERGED, rs.ROLLED_BACK, rs.PENDING], rs.ROLLED_BACK),
    ([rs.CONVERGED, rs.PENDING, rs.IGNORED], rs.PENDING),
    ([rs.CONVERGED, rs.IGNORED], rs.CONVERGED),
    ([rs.IGNORED], rs.CONVERGED),
    ([], rs.CONVERGED),
])
def test_assess_stack_combines_service_verdicts(verdicts, expected):
    services = [summary("s%d" % index, verdict) for index, verdict in enumerate(verdicts)]
    result = rs.assess_stack(services)
    assert result["verdict"] == expected
    assert result["services"] == services


def test_assess_stack_reasons_name_the_services():
    failed = rs.assess_stack([summary("shop_api", rs.FAILED, "exit code 1"), summary("shop_web", rs.PENDING)])
    assert failed["reason"] == "shop_api failed: exit code 1"
    back = rs.assess_stack([summary("shop_web", rs.ROLLED_BACK, "rollback completed")])
    assert back["reason"] == "shop_web was rolled back: rollback completed"
    waiting = rs.assess_stack([summary("shop_web", rs.PENDING), summary("shop_api", rs.PENDING)])
    assert waiting["reason"] == "waiting for shop_web, shop_api"
    done = rs.assess_stack([summary("shop_web", rs.CONVERGED), summary("shop_cron", rs.IGNORED)])
    assert done["reason"] == "1 service converged, 1 ignored"


def test_assess_stack_on_real_assessments():
    web = converged_web(at=65, previous=converged_web(at=55))
    api = assess("api_bad_image.service.json", "api_bad_image.tasks.json", 18)
    result = rs.assess_stack([web, api])
    assert result["verdict"] == rs.FAILED
    assert result["reason"].startswith("shop_api failed: replica 1 failed 3 times")


# ---------------------------------------------------------- progress line ---

def test_progress_line_for_a_service():
    result = converged_web(at=58, previous=converged_web(at=55))
    assert rs.progress_line(result) == (
        "shop_web: 3/3 updated, 3/3 running, 3/3 healthy (pending: stable for 6s of 10s)")


def test_progress_line_for_a_job():
    result = assess("migrate_job.service.json", "migrate_job_complete.tasks.json", 18)
    assert rs.progress_line(result) == "shop_migrate: 1/1 completed, 0/1 running (converged: 1/1 completed)"


def test_annotate_health_reads_swarm_task_states():
    tasks = [{"Status": {"State": s}} for s in ("running", "starting", "failed", "pending")]
    assert [t["Health"] for t in rs.annotate_health(tasks)] == ["healthy", "starting", None, None]


def test_swarm_completing_the_update_proves_stability_when_its_monitor_is_long_enough():
    service = load("web_update_completed.service.json")
    service["UpdateStatus"] = dict(service.get("UpdateStatus") or {}, State="completed")
    service["Spec"].setdefault("UpdateConfig", {})["Monitor"] = 5 * 10 ** 9
    tasks = rs.annotate_health(load("web_update_healthy.tasks.json"))
    version = service["Version"]["Index"]
    quick = rs.assess_service(service, tasks, version, 100.0, 0.0, 5, None)
    assert quick["verdict"] == rs.CONVERGED and quick["reason"].startswith("Swarm completed the update")
    # A window longer than Swarm's own monitor is still waited for.
    longer = rs.assess_service(service, tasks, version, 100.0, 0.0, 30, None)
    assert longer["verdict"] == rs.PENDING


def test_a_crash_while_starting_stays_a_crash():
    failure = {"task_id": "t1", "exit_code": 1, "reason": "exit code 1"}
    seen = {"t1": {"state": "starting"}}
    assert rs._with_history(failure, seen)["reason"] == "exit code 1"
    stopped = dict(failure, exit_code=0, reason="exited with code 0, but a service task must keep running")
    assert rs._with_history(stopped, seen)["reason"].startswith("healthcheck never passed")
