"""Waiting on the manager for a change, and how long the tracker lets a poll wait."""
import copy
import json
import os

from ansible_collections.conductor.swarm.plugins.module_utils.rollout.long_poll import fingerprint, wait_for_change
from ansible_collections.conductor.swarm.plugins.module_utils.rollout.tracker import LONGEST_WAIT_SECONDS, Tracker
from ansible_collections.conductor.swarm.plugins.module_utils.rollout.cluster import Cluster
from ansible_collections.conductor.swarm.plugins.module_utils import rollout_state as rs
from fake_clock import FakeClock

RECORDED = os.path.join(os.path.dirname(__file__), "..", "fixtures", "rollout", "recorded")


def recording(name):
    with open(os.path.join(RECORDED, name + ".json")) as f:
        return json.load(f)


def first_poll():
    poll = recording("update-converged")["polls"][0]
    return poll["services"], poll["tasks"], poll["nodes"]


def test_the_fingerprint_moves_with_what_the_tracker_decides_from_and_nothing_else():
    services, tasks, nodes = first_poll()
    mark = fingerprint(services, tasks, nodes)
    assert mark == fingerprint(copy.deepcopy(services), copy.deepcopy(tasks)[::-1], nodes), "order is no news"
    quiet = copy.deepcopy(tasks)
    quiet[0]["Status"]["Message"] = "started"  # no new version of the task: the same state
    assert fingerprint(services, quiet, nodes) == mark
    moved = copy.deepcopy(tasks)
    moved[0]["Status"]["State"] = "failed"
    assert fingerprint(services, moved, nodes) != mark
    updated = copy.deepcopy(services)
    updated[0]["UpdateStatus"] = {"State": "completed", "Message": "update completed"}
    assert fingerprint(updated, tasks, nodes) != mark
    down = copy.deepcopy(nodes)
    down[-1]["Status"]["State"] = "down"
    assert fingerprint(services, tasks, down) != mark


class Reads(object):
    """A swarm read on the manager: the same state until `change_at` (clock time), then another."""

    def __init__(self, clock, change_at):
        self.clock = clock
        self.change_at = change_at
        self.count = 0

    def __call__(self):
        self.count += 1
        state = "after" if self.clock.time() >= self.change_at else "before"
        return state, "mark-" + state


def test_an_unchanged_swarm_is_read_until_it_changes_and_answered_at_once():
    clock = FakeClock(100.0)
    reads = Reads(clock, change_at=101.2)
    state, mark = wait_for_change(reads, "mark-before", 5, 0.5, clock)
    assert (state, mark) == ("after", "mark-after")
    assert clock.time() == 101.5  # the first read at or after the change
    assert reads.count == 4


def test_without_a_change_the_answer_comes_after_max_wait():
    clock = FakeClock(100.0)
    reads = Reads(clock, change_at=1000)
    assert wait_for_change(reads, "mark-before", 2, 0.75, clock) == ("before", "mark-before")
    assert clock.time() == 102.0  # the last sleep is cut to what is left


def test_a_first_poll_or_a_different_fingerprint_answers_without_waiting():
    clock = FakeClock(100.0)
    assert wait_for_change(Reads(clock, 1000), None, 5, 0.5, clock)[1] == "mark-before"
    assert wait_for_change(Reads(clock, 1000), "mark-older", 5, 0.5, clock)[1] == "mark-before"
    assert clock.time() == 100.0


class WaitingCluster(Cluster):
    """Plays a recording's polls, with fingerprints, and records how long each poll was allowed to wait."""

    def __init__(self, polls, clock):
        self.polls = polls
        self.clock = clock
        self.asked = []

    def poll(self, services, logs_for=(), until_changed=None, max_wait=0):
        self.asked.append((until_changed, max_wait))
        poll = self.polls[min(len(self.asked), len(self.polls)) - 1]
        # The manager's clock moves with the wait it was allowed (nothing changes in between).
        self.clock.now += max_wait
        tasks = rs.annotate_health(copy.deepcopy(poll["tasks"]))
        return {"now": poll["now"] + (self.clock.now - 1000.0), "logs": {}, "fingerprint": "fp-%d" % len(self.asked),
                "raw": {"services": poll["services"], "tasks": tasks, "nodes": poll["nodes"]}}


def test_the_tracker_waits_on_the_manager_until_the_window_can_end_instead_of_sleeping():
    rec = recording("update-converged")
    clock = FakeClock(1000.0)
    cluster = WaitingCluster(rec["polls"][:1], clock)
    tracking = {"deadline": 600, "service_deadline": 300, "monitor": 30, "poll_interval": 1}
    said = []
    result = Tracker(cluster, "demo", tracking, said.append, clock).track(
        dict((name, {"version": v}) for name, v in rec["target_versions"].items()), started_at=rec["started_at"])
    assert result["verdict"] == rs.CONVERGED
    assert cluster.asked[0] == (None, 0)
    # Each later poll passes the last fingerprint, and may wait at most LONGEST_WAIT_SECONDS; the
    # last wait is cut to the end of the window, so the verdict comes when the window ends.
    assert [a[0] for a in cluster.asked[1:]] == ["fp-%d" % i for i in range(1, len(cluster.asked))]
    waits = [a[1] for a in cluster.asked[1:]]
    assert all(0 < w <= LONGEST_WAIT_SECONDS for w in waits), waits
    assessment = result["assessments"][0]
    last_now = rec["polls"][0]["now"] + sum(waits)
    assert abs(last_now - (assessment["stable_since"] + 30)) < 1e-6
    assert abs(clock.now - 1000.0 - sum(waits)) < 1e-6, "the controller never slept on its own"


def assessments(poll, rec, tasks):
    by_service = {}
    for task in tasks:
        by_service.setdefault(task["ServiceID"], []).append(task)
    out = []
    for service in poll["services"]:
        name = service["Spec"]["Name"]
        result = rs.assess_service(service, by_service.get(service["ID"], []), rec["target_versions"][name],
                                   poll["now"], rec["started_at"], 5, rec["started_at"] + 300, nodes=poll["nodes"])
        out.append(dict((k, v) for k, v in result.items() if k != "events"))
    return out


def test_compact_tasks_are_assessed_exactly_as_the_full_ones():
    # The poll's answer cuts each task down (rollout_state.compact_task); every recorded poll
    # must give the same assessment either way, failures and their reasons included.
    for name in sorted(os.listdir(RECORDED)):
        rec = recording(name[:-len(".json")])
        for poll in rec["polls"]:
            full = rs.annotate_health(copy.deepcopy(poll["tasks"]))
            compact = [rs.compact_task(t) for t in full]
            assert len(json.dumps(compact)) < len(json.dumps(full)) / 2
            assert assessments(poll, rec, compact) == assessments(poll, rec, full), name
