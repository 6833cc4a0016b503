"""The stack lock as the controller holds it: the apply takes it, waiting means trying the apply again; renewing,
releasing, and the owner around it."""
from ansible_collections.conductor.swarm.plugins.module_utils.rollout.cluster import Cluster, ClusterError
from ansible_collections.conductor.swarm.plugins.module_utils.rollout.lease import Lease
from ansible_collections.conductor.swarm.plugins.module_utils.rollout.owner import Rollout
from fake_clock import FakeClock

HOLDER = {"owner": "AWX job 41 (awx@tower)", "run": "run-a", "acquired_at": 900, "expires_at": 1500}
HELD_MSG = "stack web is being deployed by AWX job 41 (awx@tower) (run run-a) since ..."
TRACKING = {"wait": True, "deadline": 600, "service_deadline": 300, "monitor": 0, "rollback": True,
            "poll_interval": 1, "log_lines": 5}
# What the apply answers, as stack_deploy on the manager does (ApplyHold's `lock`).
TAKEN = {"changed": True, "services": {}, "lock": {"held": True, "holder": None, "msg": None, "messages": []}}
NOTHING_TO_DO = {"changed": False, "services": {},
                 "lock": {"held": False, "holder": None, "msg": None, "messages": []}}


def held_by_other():
    return {"failed": True, "changed": False, "msg": "nothing was changed: " + HELD_MSG, "lock_holder": dict(HOLDER),
            "lock": {"held": False, "holder": dict(HOLDER), "msg": HELD_MSG, "messages": []}}


class LockCluster(Cluster):
    """Answers applies from a script (the last answer again after that); renewals and releases as set."""

    def __init__(self, answers, clock, renew_answer=None, release_answer=None):
        self.answers = list(answers)
        self.clock = clock
        self.renew_answer = renew_answer or {"held": True, "holder": None}
        self.release_answer = release_answer or {"held": False, "holder": None}
        self.calls = []

    def lock(self, state, run_id, owner, ttl):
        self.calls.append((state, self.clock.time(), None))
        if state == "renewed":
            return self.renew_answer
        if isinstance(self.release_answer, Exception):
            raise self.release_answer
        return self.release_answer

    def apply(self, **overrides):
        self.calls.append(("apply", self.clock.time(), overrides))
        return dict(self.answers.pop(0) if len(self.answers) > 1 else self.answers[0])


def lease(cluster, clock, said, wait=0, break_lock=False):
    return Lease(cluster, "run-b", "ops@laptop pid 7", wait, break_lock, said.append, clock)


def names(cluster):
    return [c[0] for c in cluster.calls]


def test_the_apply_takes_the_lock_as_this_run_and_a_changed_run_releases_it_after():
    clock, said = FakeClock(1000), []
    cluster = LockCluster([TAKEN], clock)
    result = Rollout(cluster, "web", TRACKING, said.append, clock, lease=lease(cluster, clock, said)).run()
    assert names(cluster) == ["apply", "released"]
    assert cluster.calls[0][2] == {"lock_run": {"run_id": "run-b", "owner": "ops@laptop pid 7", "ttl": 600},
                                   "lock_break": False}
    assert not result.get("failed") and "warnings" not in result and "lock" not in result


def test_a_run_with_nothing_to_do_makes_no_call_for_the_lock():
    clock, said = FakeClock(1000), []
    cluster = LockCluster([NOTHING_TO_DO], clock)
    result = Rollout(cluster, "web", TRACKING, said.append, clock, lease=lease(cluster, clock, said)).run()
    assert names(cluster) == ["apply"]  # the apply gave it back in the same call
    assert result["changed"] is False and not result.get("failed")


def test_another_runs_lock_stops_the_run_before_any_change_and_names_the_holder():
    clock, said = FakeClock(1000), []
    cluster = LockCluster([held_by_other()], clock)
    result = Rollout(cluster, "web", TRACKING, said.append, clock, lease=lease(cluster, clock, said)).run()
    assert names(cluster) == ["apply"]  # one try, and nothing of ours to release
    assert result["failed"] and result["changed"] is False
    assert result["msg"] == "nothing was changed: " + HELD_MSG
    assert result["lock_holder"]["owner"] == "AWX job 41 (awx@tower)"


def test_a_run_waits_for_the_lock_trying_the_apply_every_2_s_and_saying_so_every_30_s():
    clock, said = FakeClock(1000), []
    cluster = LockCluster([held_by_other()] * 31 + [TAKEN], clock)
    result = Rollout(cluster, "web", TRACKING, said.append, clock, lease=lease(cluster, clock, said, wait=120)).run()
    tries = [c[1] for c in cluster.calls if c[0] == "apply"]
    assert tries[:3] == [1000, 1002, 1004] and len(tries) == 32
    waiting = [line for line in said if "waiting for the lock" in line]
    assert waiting == ["  stack web: waiting for the lock (%ds of 120s): AWX job 41 (awx@tower) deploys it (run run-a)"
                       % s for s in (0, 30, 60)]
    assert names(cluster)[-2:] == ["apply", "released"] and not result.get("failed")


def test_a_wait_that_runs_out_fails_with_the_time_waited_and_changes_nothing():
    clock, said = FakeClock(1000), []
    cluster = LockCluster([held_by_other()], clock)
    result = Rollout(cluster, "web", TRACKING, said.append, clock, lease=lease(cluster, clock, said, wait=5)).run()
    tries = [c[1] for c in cluster.calls if c[0] == "apply"]
    assert tries == [1000, 1002, 1004, 1005]  # the last try at the end of the wait, not past it
    assert "released" not in names(cluster)
    assert result["failed"] and result["msg"] == "nothing was changed; waited 5s for the lock: " + HELD_MSG


def test_a_lock_that_cannot_be_read_stops_the_run_with_the_engines_reason():
    clock, said = FakeClock(1000), []
    msg = "stack web: nothing was changed: cannot read or write its lock: 500 Server Error"
    cluster = LockCluster([{"failed": True, "msg": msg, "lock": {"held": False, "holder": None, "msg": None,
                                                                 "messages": []}}], clock)
    result = Rollout(cluster, "web", TRACKING, said.append, clock, lease=lease(cluster, clock, said, wait=60)).run()
    assert names(cluster) == ["apply"]  # no waiting on an error: it is not a holder
    assert result["msg"] == msg


def test_files_refused_before_the_lock_make_no_call_for_it():
    clock, said = FakeClock(1000), []
    cluster = LockCluster([{"failed": True, "msg": "the Compose files were rejected, nothing was changed: ..."}], clock)
    Rollout(cluster, "web", TRACKING, said.append, clock, lease=lease(cluster, clock, said)).run()
    assert names(cluster) == ["apply"]


def test_an_apply_that_crashed_may_hold_the_lock_so_it_is_released():
    clock, said = FakeClock(1000), []
    cluster = LockCluster([{"failed": True, "msg": "MODULE FAILURE", "module_stderr": "Traceback ..."}], clock)
    Rollout(cluster, "web", TRACKING, said.append, clock, lease=lease(cluster, clock, said)).run()
    assert names(cluster) == ["apply", "released"]


def test_check_mode_takes_nothing_and_says_who_holds_the_lock():
    clock, said = FakeClock(1000), []
    look = dict(NOTHING_TO_DO, lock={"held": False, "holder": dict(HOLDER), "msg": HELD_MSG, "messages": []})
    cluster = LockCluster([look], clock)
    result = Rollout(cluster, "web", TRACKING, said.append, clock, check_mode=True,
                     lease=lease(cluster, clock, said, wait=60)).run()
    assert names(cluster) == ["apply"]  # one look (check mode), no release, no wait
    assert "  stack web: " + HELD_MSG in said and not result.get("failed")


def test_breaking_a_lock_asks_for_it_and_prints_what_was_broken():
    clock, said = FakeClock(1000), []
    broke = "  stack web: broke the lock of AWX job 41 (awx@tower) (run run-a, stack_lock_break)"
    cluster = LockCluster([dict(TAKEN, lock=dict(TAKEN["lock"], messages=[broke]))], clock)
    Rollout(cluster, "web", TRACKING, said.append, clock, lease=lease(cluster, clock, said, break_lock=True)).run()
    assert cluster.calls[0][2]["lock_break"] is True
    assert broke in said


def test_the_lock_is_renewed_once_a_third_of_its_time_to_live_has_passed():
    clock, said = FakeClock(1000), []
    cluster = LockCluster([TAKEN], clock)
    held = lease(cluster, clock, said)
    held.apply("web")
    for _step in range(10):  # the run talks to the swarm every 30 s for 300 s
        clock.sleep(30)
        held.renew_if_due()
    assert [c[1] for c in cluster.calls if c[0] == "renewed"] == [1210]  # ttl 600: due at 200 s, then at 410 s
    clock.sleep(110)
    held.renew_if_due()
    assert [c[1] for c in cluster.calls if c[0] == "renewed"] == [1210, 1410]


def test_a_lock_broken_by_someone_else_mid_run_is_a_warning_and_is_not_released():
    clock, said = FakeClock(1000), []
    cluster = LockCluster([TAKEN], clock,
                          renew_answer={"failed": True, "held": False, "holder": dict(HOLDER),
                                        "msg": "stack web: this run no longer holds its lock (broken by another run?)"})
    held = lease(cluster, clock, said)
    held.apply("web")
    clock.sleep(300)
    held.renew_if_due()
    held.release()
    assert names(cluster) == ["apply", "renewed"]
    assert held.warnings == ["this run lost its stack lock before it ended: stack web: this run no longer holds its "
                             "lock (broken by another run?)"]


def test_a_release_that_fails_leaves_a_warning_on_a_run_that_succeeded():
    clock, said = FakeClock(1000), []
    cluster = LockCluster([TAKEN], clock,
                          release_answer=ClusterError("cannot reach the manager: timed out"))
    result = Rollout(cluster, "web", TRACKING, said.append, clock, lease=lease(cluster, clock, said)).run()
    assert not result.get("failed")
    assert result["warnings"] == ["the stack lock could not be released (it expires within 600s): cannot reach the "
                                  "manager: timed out"]


def test_the_lock_is_released_when_the_run_raises():
    clock, said = FakeClock(1000), []

    class Crashing(LockCluster):
        def apply(self, **overrides):
            raise KeyboardInterrupt()

    cluster = Crashing([TAKEN], clock)
    try:
        Rollout(cluster, "web", TRACKING, said.append, clock, lease=lease(cluster, clock, said)).run()
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("the interrupt was swallowed")
    assert names(cluster) == ["released"]  # the interrupt came before any answer: the apply may hold it
