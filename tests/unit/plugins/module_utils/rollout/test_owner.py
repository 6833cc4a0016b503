"""The rollout owner driven end to end by recorded lab polls: no Ansible, no Docker."""
import copy
import json
import os

import pytest

from ansible_collections.conductor.swarm.plugins.module_utils.labels import HASH_LABEL
from ansible_collections.conductor.swarm.plugins.module_utils.rollout.cluster import Cluster, ClusterError
from ansible_collections.conductor.swarm.plugins.module_utils.rollout import owner, tracker
from ansible_collections.conductor.swarm.plugins.module_utils.rollout.owner import Rollout
from ansible_collections.conductor.swarm.plugins.module_utils import rollout_state as rs
from ansible_collections.conductor.swarm.plugins.module_utils.strategies.registry import STRATEGIES
from fake_clock import FakeClock

RECORDED = os.path.join(os.path.dirname(__file__), "..", "fixtures", "rollout", "recorded")
TRACKING = {"wait": True, "deadline": 600, "service_deadline": 300, "monitor": 0, "rollback": True,
            "poll_interval": 1, "log_lines": 5}


def recording(name):
    with open(os.path.join(RECORDED, name + ".json")) as f:
        return json.load(f)


def applied_hashes(rec):
    """The spec hash label each service had at the first recorded poll, unless Swarm was already rolling it back."""
    first = rec["polls"][0]["services"]
    return dict((s["Spec"]["Name"], s["Spec"]["Labels"].get(HASH_LABEL)) for s in first
                if not ((s.get("UpdateStatus") or {}).get("State") or "").startswith("rollback"))


class RecordedCluster(Cluster):
    """Answers polls from a recording, one poll per call, the last one again after that."""

    def __init__(self, rec, rollback_polls=None, fail_poll_at=None, cleanup_fails=False, fails=0):
        self.rec = rec
        self.polls = [self.answer(p) for p in rec["polls"]]
        self.rollback_polls = [self.answer(p) for p in (rollback_polls or [])]
        self.calls = []
        self.fail_poll_at = fail_poll_at
        self.fails = fails  # from poll fail_poll_at on, this many polls fail (0: all of them)
        self.cleanup_fails = cleanup_fails
        self.rolled_back = False

    @staticmethod
    def answer(poll):
        tasks = rs.annotate_health(copy.deepcopy(poll["tasks"]))
        return {"now": poll["now"], "logs": {}, "raw": {"services": poll["services"], "tasks": tasks,
                                                        "nodes": poll["nodes"]}}

    def apply(self, **overrides):
        self.calls.append(("apply", overrides))
        hashes = applied_hashes(self.rec)
        services = dict((name, {"action": "update", "version": version, "spec_hash": hashes.get(name, "h-" + name),
                                "id": "x"}) for name, version in self.rec["target_versions"].items())
        return {"changed": True, "services": services, "started_at": self.rec["started_at"],
                "removed": {"services": [], "configs": [], "secrets": []}}

    def poll(self, services, logs_for=(), until_changed=None, max_wait=0):
        self.calls.append(("poll", sorted(services), list(logs_for)))
        polls = len([c for c in self.calls if c[0] in ("poll", "lost")])
        # A tracker that never reaches a verdict on a recording would loop on its last poll for ever.
        assert polls < 500, "still polling after 500 polls: the tracker found no verdict"
        if self.fail_poll_at is not None and polls >= self.fail_poll_at and (
                not self.fails or polls < self.fail_poll_at + self.fails):
            self.calls[-1] = ("lost",) + self.calls[-1][1:]  # not an answer: the recording does not move on
            raise ClusterError("cannot reach the Docker Engine at unix:///var/run/docker.sock")
        if logs_for:
            return dict(self.polls[-1], logs=dict((t, ["line one", "FATAL: boom"]) for t in logs_for))
        # Tracking polls since the last apply or rollback: the recording plays from its start.
        since = self.calls[self.rolled_back:] if self.rolled_back else self.calls
        index = len([c for c in since if c[0] == "poll" and not c[2]]) - 1
        source = self.rollback_polls if self.rolled_back and self.rollback_polls else self.polls
        return source[min(index, len(source) - 1)]

    def roll_back(self, services, expected_hashes, remove, remove_objects=()):
        self.calls.append(("roll_back", services, expected_hashes, remove, list(remove_objects)))
        self.rolled_back = len(self.calls)
        return {"rolled_back": {}, "removed": [], "skipped": dict((s, "already rolled back by Swarm") for s in services),
                "removed_objects": ["%s %s" % (o["kind"], o["name"]) for o in remove_objects], "kept": {}}

    def cleanup(self):
        self.calls.append(("cleanup",))
        if self.cleanup_fails:
            return {"failed": True, "msg": "config in use"}
        return {"removed": {"services": [], "configs": ["demo_app_conf_old"], "secrets": []}}


def run(cluster, check_mode=False, **tracking):
    said = []
    result = Rollout(cluster, "demo", dict(TRACKING, **tracking), said.append, FakeClock(1000.0),
                     check_mode=check_mode).run()
    return result, said


def test_a_converged_rollout_is_cleaned_up_and_says_so():
    cluster = RecordedCluster(recording("update-converged"))
    result, said = run(cluster)
    assert result["rollout"]["verdict"] == rs.CONVERGED
    assert result["rollout"]["services"] == {"demo_web": rs.CONVERGED}
    assert "assessments" not in result["rollout"]
    assert result["removed"]["configs"] == ["demo_app_conf_old"]
    # The first recorded poll already shows 3/3 healthy on the new spec (monitor 0 here).
    assert [c[0] for c in cluster.calls] == ["apply", "poll", "cleanup"]
    assert any(line.startswith("  demo_web: 3/3 updated, 3/3 running, 3/3 healthy") for line in said), said
    assert said[-1].startswith("  stack demo: converged after")
    assert not result.get("failed")


def test_a_failed_cleanup_is_a_warning_not_a_failure():
    result, _said = run(RecordedCluster(recording("update-converged"), cleanup_fails=True))
    assert not result.get("failed")
    assert result["warnings"] == ["stack demo converged, but removing unused config and secret versions failed: "
                                  "config in use"]


def test_a_rolled_back_service_rolls_the_stack_back_with_logs_and_reason():
    rec = recording("unhealthy-rolled-back")
    cluster = RecordedCluster(rec, rollback_polls=rec["polls"][-1:])
    result, said = run(cluster, monitor=5)
    assert result["failed"] is True
    assert result["rollout"]["verdict"] == rs.ROLLED_BACK
    rollback = [c for c in cluster.calls if c[0] == "roll_back"]
    assert rollback == [("roll_back", ["demo_web"], {"demo_web": applied_hashes(rec)["demo_web"]}, [], [])]
    assert result["rollback"]["rollout"]["verdict"] == rs.CONVERGED
    assert result["msg"].startswith("deploy of stack demo failed and was rolled back: the stack is back on the "
                                    "previous version (demo_web).")
    assert "healthcheck never passed" in result["msg"]
    assert "  rolling back stack demo to the previous version" in said
    assert any("FATAL: boom" in line for line in said), said


class RefusedCluster(RecordedCluster):
    """The swarm refused the apply half way: demo_web was updated and demo_backend created, then demo_worker refused."""

    REFUSAL = 'the swarm refused part of the deploy: 409 Client Error: Conflict ("name conflicts with an existing object")'

    def __init__(self, rec, kept=None, **kw):
        RecordedCluster.__init__(self, rec, **kw)
        self.kept = kept or {}

    def apply(self, **overrides):
        self.calls.append(("apply", overrides))
        web = {"action": "update", "version": 41, "spec_hash": "h-demo_web", "id": "x"}
        worker = {"action": "create", "version": None, "spec_hash": "h-demo_worker", "id": None}
        return {"failed": True, "msg": self.REFUSAL, "services": {"demo_web": web, "demo_worker": worker},
                "partial": {"services": {"demo_web": web},
                            "objects": [{"kind": "network", "id": "n1", "name": "demo_backend"}]}}

    def roll_back(self, services, expected_hashes, remove, remove_objects=()):
        answer = RecordedCluster.roll_back(self, services, expected_hashes, remove, remove_objects)
        answer["removed_objects"] = [label for label in answer["removed_objects"] if label not in self.kept]
        answer["kept"] = dict((label, why) for label, why in self.kept.items() if remove_objects)
        return answer


@pytest.mark.parametrize("rollback", [True, False])
def test_a_refused_apply_is_undone_by_the_tracked_rollback_then_its_objects_removed(rollback):
    rec = recording("unhealthy-rolled-back")
    cluster = RefusedCluster(rec, rollback_polls=rec["polls"][-1:])
    result, said = run(cluster, rollback=rollback)  # rollback off or on: half a stack is never left
    assert result["failed"] is True and "partial" not in result
    undo = [c for c in cluster.calls if c[0] == "roll_back"]
    assert undo == [("roll_back", ["demo_web"], {"demo_web": "h-demo_web"}, [], []),
                    ("roll_back", [], {}, [], [{"kind": "network", "id": "n1", "name": "demo_backend"}])]
    # The objects go only once the rollback has converged: the services held them until then.
    kinds = [c[0] for c in cluster.calls]
    assert kinds.index("poll") < len(kinds) - 1 - kinds[::-1].index("roll_back")
    assert result["rollback"]["rollout"]["verdict"] == rs.CONVERGED
    assert result["rollback"]["removed_objects"] == ["network demo_backend"]
    assert result["msg"] == ("deploy of stack demo failed and was rolled back: the stack is back on the previous "
                             "version (demo_web, network demo_backend). " + RefusedCluster.REFUSAL)
    assert "  %s; undoing what this deploy had changed" % RefusedCluster.REFUSAL in said


def test_an_object_still_in_use_after_the_undo_is_named_in_the_failure():
    rec = recording("unhealthy-rolled-back")
    kept = {"network demo_backend": "network demo_backend has active endpoints"}
    result, _said = run(RefusedCluster(rec, kept=kept, rollback_polls=rec["polls"][-1:]))
    assert result["msg"] == ("deploy of stack demo failed; rolled back demo_web, but could not roll back network "
                             "demo_backend (network demo_backend has active endpoints). " + RefusedCluster.REFUSAL)


def superseded_recording():
    """update-converged, but by its second poll another deploy of the stack had changed demo_web's spec."""
    rec = copy.deepcopy(recording("update-converged"))
    theirs = rec["polls"][1]["services"][0]
    theirs["Version"]["Index"] = rec["target_versions"]["demo_web"] + 2
    theirs["Spec"]["Labels"][HASH_LABEL] = "0f" * 32
    return rec


def test_a_service_someone_else_changed_fails_as_superseded_and_is_not_rolled_back():
    cluster = RecordedCluster(superseded_recording())
    result, said = run(cluster, monitor=3600)  # still inside its window at the first poll
    assert result["failed"] is True
    assert result["rollout"]["verdict"] == rs.FAILED
    assert result["rollout"]["reason"] == (
        "demo_web failed: superseded: the service's spec was changed by someone else (version 577, spec hash "
        "0f0f0f0f0f0f), so this run's rollout cannot be judged")
    # Their spec stays: nothing is rolled back or removed, and no rollback is tracked.
    assert [c for c in cluster.calls if c[0] == "roll_back"] == [("roll_back", [], {}, [], [])]
    assert "rollout" not in result["rollback"]
    assert result["msg"].startswith(
        "deploy of stack demo failed; rolled back nothing, but could not roll back demo_web (superseded: someone "
        "else changed its spec since this deploy, so it is left to them). demo_web failed: superseded:")
    assert "  demo_web: left as it is: someone else changed its spec since this deploy" in said


def test_a_superseded_service_is_left_alone_even_when_the_others_roll_back():
    rec = recording("unhealthy-rolled-back")  # its last poll: demo_web back on the previous spec
    cluster = RecordedCluster(rec, rollback_polls=rec["polls"][-1:])
    said = []
    rollout = Rollout(cluster, "demo", dict(TRACKING, monitor=5), said.append, FakeClock(1000.0))
    changed = {"demo_api": {"action": "update", "spec_hash": "h-demo_api"},
               "demo_web": {"action": "update", "spec_hash": "h-demo_web"}}
    tracked = {"verdict": rs.FAILED, "reason": "r", "services": {}, "seconds": 1.0, "assessments": [
        {"name": "demo_api", "verdict": rs.FAILED, "reason": "superseded: ...", "failures": [], "superseded": True},
        {"name": "demo_web", "verdict": rs.ROLLED_BACK, "reason": "Swarm rolled back", "failures": []}]}
    result = rollout.fail_and_roll_back({}, changed, tracked)
    assert [c for c in cluster.calls if c[0] == "roll_back"] == [
        ("roll_back", ["demo_web"], {"demo_web": "h-demo_web"}, [], [])]
    assert result["rollback"]["rollout"]["verdict"] == rs.CONVERGED
    assert "rolled back demo_web, but could not roll back demo_api (superseded:" in result["msg"]


def test_with_rollback_off_the_stack_is_left_as_it_is():
    cluster = RecordedCluster(recording("exits-rolled-back"))
    result, _said = run(cluster, rollback=False, monitor=5)
    assert result["failed"] is True
    assert "rollback is off, so the stack is left as it is" in result["msg"]
    assert "exit code 1" in result["msg"]
    assert not [c for c in cluster.calls if c[0] == "roll_back"]


def test_losing_the_manager_while_tracking_fails_with_the_reason_once_the_retries_are_spent():
    cluster = RecordedCluster(recording("update-converged"), fail_poll_at=1)
    result, said = run(cluster)
    assert result["failed"] is True
    assert result["msg"] == ("lost track of the rollout: cannot reach the Docker Engine at "
                             "unix:///var/run/docker.sock (no answer for %ds)" % tracker.POLL_RETRY_SECONDS)
    tries = len([c for c in cluster.calls if c[0] == "lost"])
    assert tries == tracker.POLL_RETRY_SECONDS // tracker.POLL_RETRY_PAUSE_SECONDS + 1
    assert [line for line in said if "lost contact" in line] == [
        "  lost contact with the manager (cannot reach the Docker Engine at unix:///var/run/docker.sock); "
        "retrying for up to %ds" % tracker.POLL_RETRY_SECONDS]
    assert not [c for c in cluster.calls if c[0] == "roll_back"]


def test_a_poll_lost_for_a_few_seconds_is_retried_and_tracking_goes_on():
    # The second poll fails three times (an engine restarting), then the manager answers again.
    rec = recording("unhealthy-rolled-back")
    cluster = RecordedCluster(rec, rollback_polls=rec["polls"][-1:], fail_poll_at=2, fails=3)
    result, said = run(cluster, monitor=5)
    assert result["rollout"]["verdict"] == rs.ROLLED_BACK  # what the second recorded poll says
    assert len([c for c in cluster.calls if c[0] == "lost"]) == 3
    assert len([line for line in said if "lost contact with the manager" in line]) == 1
    assert said.count("  the manager answers again after %ds" % (3 * tracker.POLL_RETRY_PAUSE_SECONDS)) == 1


class MovingCluster(RecordedCluster):
    """The first recorded poll of update-converged, again and again, its manager clock the test's clock."""

    def __init__(self, clock):
        rec = recording("update-converged")
        RecordedCluster.__init__(self, dict(rec, polls=rec["polls"][:1]))
        self.clock = clock

    def poll(self, services, logs_for=(), until_changed=None, max_wait=0):
        return dict(RecordedCluster.poll(self, services, logs_for, until_changed, max_wait), now=self.clock.time())


def run_moving(**tracking):
    """A rollout that never converges (its monitor window outlasts every deadline), then a rollback that never
    completes; the clock starts at the recorded poll's manager time, 17.5 s after the apply's started_at."""
    rec = recording("update-converged")
    clock = FakeClock(rec["polls"][0]["now"])
    cluster = MovingCluster(clock)
    result = Rollout(cluster, "demo", dict(TRACKING, monitor=3600, **tracking), [].append, clock).run()
    return result


def test_the_deadline_bounds_the_whole_run_and_a_late_rollback_gets_its_minimum():
    result = run_moving(deadline=100, service_deadline=300)
    # The run ends at started_at + 100, 82.5 s after the first look: the rollout fails at the look after.
    assert result["rollout"]["seconds"] == 83.0
    assert "not converged within the deadline" in result["rollout"]["reason"]
    # No time is left for the rollback: it still gets the minimum, not a fresh 100 s.
    rollback = result["rollback"]["rollout"]
    assert rollback["seconds"] == owner.ROLLBACK_MINIMUM_SECONDS
    assert "rollback did not complete in time" in rollback["reason"]
    assert "until" not in rollback and "until" not in result["rollout"]


def test_a_rollback_gets_what_is_left_of_the_deadline():
    result = run_moving(deadline=200, service_deadline=100)
    # service_deadline caps the rollout (100 s from the first look); the rollback has what is left of
    # started_at + 200: 182.5 - 100, so it fails at the look 83 s in, not 100 s.
    assert result["rollout"]["seconds"] == 100.0
    assert result["rollback"]["rollout"]["seconds"] == 83.0


def test_service_deadline_caps_the_rollback_too():
    result = run_moving(deadline=600, service_deadline=40)
    assert result["rollout"]["seconds"] == 40.0
    assert result["rollback"]["rollout"]["seconds"] == 40.0


@pytest.mark.parametrize("check_mode, tracking", [(True, {}), (False, {"wait": False})])
def test_check_mode_and_no_wait_only_apply(check_mode, tracking):
    cluster = RecordedCluster(recording("update-converged"))
    result, said = run(cluster, check_mode=check_mode, **tracking)
    assert [c[0] for c in cluster.calls] == ["apply"]
    # Only the line before the apply: nothing is tracked.
    assert "rollout" not in result and said == ["  stack demo: %s" % (
        "checking the files against the swarm" if check_mode else "applying what differs from the swarm")]


class SmokeFailingProxy(object):
    def __init__(self):
        self.routes = []

    def route(self, route, green, preview=None):
        self.routes.append((route, green, preview))
        return {"generation": len(self.routes), "applied_ms": 30}

    def metrics(self, route, since):
        return {}

    def probe(self, route, path, variant, timeout):
        return 503, "draining"


class ColourCluster(RecordedCluster):
    """The recorded service rolls out as the green colour of route `demo`, with the options the module checked."""

    def __init__(self, rec):
        RecordedCluster.__init__(self, rec)
        self.scaled = []

    def apply(self, **overrides):
        result = RecordedCluster.apply(self, **overrides)
        options = STRATEGIES["blue-green"].validate({"smoke": {"attempts": 2}})
        result["strategy"] = {"name": "blue-green", "options": {"blue-green": options}, "plan": {}, "notes": []}
        result["variants"] = {"demo": {"route": "demo", "live": "blue", "target": "green", "service": "demo_web",
                                       "live_service": "demo-blue", "unchanged": False, "others": [],
                                       "strategy": "blue-green"}}
        return result

    def scale(self, service, replicas):
        self.scaled.append((service, replicas))
        return {"changed": True}


def test_a_colour_that_fails_its_smoke_check_fails_the_deploy_and_leaves_traffic_alone():
    cluster, proxy, said = ColourCluster(recording("update-converged")), SmokeFailingProxy(), []
    result = Rollout(cluster, "demo", TRACKING, said.append, FakeClock(1000.0), proxy=proxy).run()
    assert result["failed"] is True
    assert result["msg"] == ("deploy of stack demo failed: demo: smoke check of green failed, traffic never moved: "
                             "GET / through the preview route answered 503, expected 200 (2 attempts)")
    assert [green for _route, green, _preview in proxy.routes] == [0, 0]  # blue kept all traffic
    assert cluster.scaled == [("demo_web", 0)]
    assert result["serving"] == {"demo": "blue"}
    assert not [c for c in cluster.calls if c[0] in ("roll_back", "cleanup")]


class LeftBehindCluster(RecordedCluster):
    """The files match the swarm, but Swarm is still rolling out demo_web: an earlier run was killed mid-rollout."""

    def __init__(self, rec, update_state, **kw):
        RecordedCluster.__init__(self, rec, **kw)
        self.update_state = update_state

    def apply(self, **overrides):
        result = RecordedCluster.apply(self, **overrides)
        for svc in result["services"].values():
            svc.update(action="unchanged", update_state=self.update_state)
        return dict(result, changed=False, started_at=None)


def test_a_rerun_picks_up_a_rollout_an_earlier_run_left_and_tracks_it_to_its_end():
    cluster = LeftBehindCluster(recording("update-converged"), "updating")
    result, said = run(cluster)
    assert "  demo_web: its update to this spec is still rolling out (an earlier run's): tracking it" in said
    assert result["resumed"] == ["demo_web"]
    assert result["rollout"]["services"] == {"demo_web": rs.CONVERGED}
    # Nothing this run changed, so nothing of its own to clean up.
    assert [c[0] for c in cluster.calls] == ["apply", "poll"] and result["changed"] is False


def test_a_left_rollout_that_fails_is_rolled_back_like_this_runs_own():
    rec = recording("unhealthy-rolled-back")
    cluster = LeftBehindCluster(rec, "updating", rollback_polls=rec["polls"][-1:])
    result, _said = run(cluster, monitor=5)
    assert result["failed"] is True and result["rollout"]["verdict"] == rs.ROLLED_BACK
    assert [c[1] for c in cluster.calls if c[0] == "roll_back"] == [["demo_web"]]


@pytest.mark.parametrize("state", [None, "completed", "paused", "rollback_completed"])
def test_an_unchanged_service_whose_update_is_not_under_way_is_not_tracked(state):
    cluster = LeftBehindCluster(recording("update-converged"), state)
    result, said = run(cluster)
    assert [c[0] for c in cluster.calls] == ["apply"]
    assert "resumed" not in result and not any("still rolling out" in line for line in said)
