"""The stack lock against a store that behaves as the Engine's configs do: a name is created once,
IDs are never reused, a label update is checked against the object's version."""
import pytest

from ansible_collections.conductor.swarm.plugins.module_utils import stack_lock
from ansible_collections.conductor.swarm.plugins.module_utils.stack_lock import (
    EXPIRES_LABEL, OWNER_LABEL, LockConflict, LockHeld, StackLock, owner_of_this_run)


class Clock(object):
    def __init__(self, now=1_000_000):
        self.now = now
        self.on_sleep = []

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
        if self.on_sleep:
            self.on_sleep.pop(0)()


class Store(object):
    def __init__(self):
        self.objects = {}
        self.serial = 0
        self.before_create = []
        self.before_remove = []

    def find(self, name):
        found = [o for o in self.objects.values() if o["Spec"]["Name"] == name]
        return dict(found[0]) if found else None

    def create(self, name, data, labels):
        if self.before_create:
            self.before_create.pop(0)()
        if self.find(name):
            raise LockConflict("config %s already exists" % name)
        self.serial += 1
        oid = "id%d" % self.serial
        self.objects[oid] = {"ID": oid, "Version": {"Index": 1}, "Spec": {"Name": name, "Labels": dict(labels)}}
        return oid

    def remove(self, oid):
        if self.before_remove:
            self.before_remove.pop(0)()
        return self.objects.pop(oid, None) is not None

    def relabel(self, oid, version, labels):
        obj = self.objects.get(oid)
        if obj is None or obj["Version"]["Index"] != version:
            raise LockConflict("update out of sequence")
        obj["Version"] = {"Index": version + 1}
        obj["Spec"]["Labels"] = dict(labels)

    def labels(self):
        return [o["Spec"]["Labels"] for o in self.objects.values()]


def lock(store, clock, run="run-b", owner="bob@ci pid 2", said=None, ttl=600):
    return StackLock(store, "web", run, owner, ttl, clock, (said if said is not None else []).append)


def held_by_alice(store, clock, ttl=600):
    lock(store, clock, run="run-a", owner="AWX job 41 (awx@tower)", ttl=ttl).acquire(wait=0)


def test_a_free_lock_is_taken_with_who_and_until_when():
    store, clock = Store(), Clock()
    lock(store, clock).acquire(wait=0)
    (labels,) = store.labels()
    assert store.find("conductor-lock-web")["ID"] == "id1"
    assert labels[OWNER_LABEL] == "bob@ci pid 2"
    assert labels[EXPIRES_LABEL] == str(clock.now + 600)


def test_a_lock_held_by_a_live_run_fails_after_the_wait_naming_the_holder_and_changes_nothing():
    store, clock = Store(), Clock()
    held_by_alice(store, clock)
    before = store.labels()
    said = []
    with pytest.raises(LockHeld) as err:
        lock(store, clock, said=said).acquire(wait=10)
    message = str(err.value)
    assert "stack web is being deployed by AWX job 41 (awx@tower) (run run-a) since" in message
    assert "waited 10s" in message and "stack_lock_break=true" in message and "stack_lock_wait" in message
    assert said == ["  stack web: waiting up to 10s for the lock: AWX job 41 (awx@tower) holds it"]
    assert store.labels() == before
    assert clock.now == 1_000_010


def test_no_wait_fails_at_once():
    store, clock = Store(), Clock()
    held_by_alice(store, clock)
    with pytest.raises(LockHeld, match="expires at .*, in 600s"):
        lock(store, clock).acquire(wait=0)
    assert clock.now == 1_000_000


def test_the_second_run_waits_and_takes_the_lock_once_the_first_releases_it():
    store, clock = Store(), Clock()
    alice = lock(store, clock, run="run-a", owner="alice")
    alice.acquire(wait=0)
    clock.on_sleep = [lambda: None, alice.release]   # released during the second sleep
    lock(store, clock).acquire(wait=30, poll=2)
    assert [labels[OWNER_LABEL] for labels in store.labels()] == ["bob@ci pid 2"]
    assert clock.now == 1_000_004


def test_an_expired_lock_is_broken_and_taken_and_the_run_says_so():
    store, clock = Store(), Clock()
    held_by_alice(store, clock, ttl=60)
    clock.now += 61
    said = []
    lock(store, clock, said=said).acquire(wait=0)
    assert said == ["  stack web: broke the lock of AWX job 41 (awx@tower) (run run-a, expired)"]
    assert [labels[OWNER_LABEL] for labels in store.labels()] == ["bob@ci pid 2"]


def test_a_live_lock_is_broken_only_when_asked():
    store, clock = Store(), Clock()
    held_by_alice(store, clock)
    said = []
    lock(store, clock, said=said).acquire(wait=0, break_lock=True)
    assert said == ["  stack web: broke the lock of AWX job 41 (awx@tower) (run run-a, stack_lock_break)"]
    assert [labels[OWNER_LABEL] for labels in store.labels()] == ["bob@ci pid 2"]


def test_two_runs_racing_for_a_free_lock_one_wins():
    store, clock = Store(), Clock()
    # Alice creates it between bob's look and bob's create.
    store.before_create = [lambda: held_by_alice(store, clock)]
    with pytest.raises(LockHeld, match="by AWX job 41"):
        lock(store, clock).acquire(wait=0)
    assert [labels[OWNER_LABEL] for labels in store.labels()] == ["AWX job 41 (awx@tower)"]


def test_two_runs_breaking_one_stale_lock_do_not_remove_each_others_lock():
    store, clock = Store(), Clock()
    held_by_alice(store, clock, ttl=60)
    clock.now += 61
    carol = lock(store, clock, run="run-c", owner="carol")
    # Carol breaks the stale lock and takes it between bob's look and bob's remove: bob removes by the
    # stale lock's ID, which is gone, so carol's lock stays and bob's create is refused.
    store.before_remove = [lambda: carol.acquire(wait=0)]
    with pytest.raises(LockHeld, match="by carol"):
        lock(store, clock).acquire(wait=0)
    assert [labels[OWNER_LABEL] for labels in store.labels()] == ["carol"]


def test_renew_pushes_the_expiry_and_fails_once_the_lock_was_broken():
    store, clock = Store(), Clock()
    bob = lock(store, clock, ttl=60)
    bob.acquire(wait=0)
    clock.now += 50
    assert bob.renew() is True
    (labels,) = store.labels()
    assert labels[EXPIRES_LABEL] == str(clock.now + 60)
    assert labels[stack_lock.ACQUIRED_LABEL] == str(clock.now - 50)
    lock(store, clock, run="run-d", owner="dave").acquire(wait=0, break_lock=True)
    assert bob.renew() is False


def test_release_removes_only_this_runs_lock():
    store, clock = Store(), Clock()
    held_by_alice(store, clock)
    lock(store, clock).release()
    assert [labels[OWNER_LABEL] for labels in store.labels()] == ["AWX job 41 (awx@tower)"]
    lock(store, clock, run="run-a").release()
    assert store.labels() == []


def test_a_lock_with_unreadable_labels_counts_as_stale():
    store, clock = Store(), Clock()
    store.objects["x"] = {"ID": "x", "Version": {"Index": 3}, "Spec": {"Name": "conductor-lock-web", "Labels": {}}}
    lock(store, clock).acquire(wait=0)
    assert [labels[OWNER_LABEL] for labels in store.labels()] == ["bob@ci pid 2"]


def test_the_owner_is_the_awx_job_when_there_is_one():
    assert owner_of_this_run({"JOB_ID": "42"}, "awx", "tower-1", 7) == "AWX job 42 (awx@tower-1)"
    assert owner_of_this_run({}, "ops", "laptop", 7) == "ops@laptop pid 7"


# --- the lock as the apply takes it (ApplyHold) ---------------------------------------------------


def apply_hold(store, clock, run="run-b", break_lock=False, check_mode=False):
    said = []
    lock = StackLock(store, "web", run, "ops@laptop pid 7", 600, clock, said.append)
    return stack_lock.ApplyHold(lock, said, break_lock, check_mode)


def test_the_apply_takes_a_free_lock_and_gives_it_back_when_nothing_follows():
    store, clock = Store(), Clock()
    hold = apply_hold(store, clock)
    assert hold.take() is None and hold.answer()["held"] is True
    assert store.labels()[0][OWNER_LABEL] == "ops@laptop pid 7"
    hold.give_back()
    assert store.objects == {} and hold.answer() == {"held": False, "holder": None, "msg": None, "messages": []}


def test_the_apply_is_refused_by_a_live_runs_lock_naming_it_and_the_lock_is_left_alone():
    store, clock = Store(), Clock()
    assert apply_hold(store, clock, run="run-a").take() is None
    hold = apply_hold(store, clock)
    refused = hold.take()
    assert refused.startswith("nothing was changed: stack web is being deployed by ops@laptop pid 7 (run run-a)")
    assert hold.answer()["held"] is False and hold.answer()["holder"]["run"] == "run-a"
    hold.give_back()  # not ours: nothing is removed
    assert len(store.objects) == 1


def test_the_apply_breaks_a_live_lock_only_when_asked_and_says_whose():
    store, clock = Store(), Clock()
    apply_hold(store, clock, run="run-a").take()
    hold = apply_hold(store, clock, break_lock=True)
    assert hold.take() is None and hold.answer()["held"] is True
    assert hold.answer()["messages"] == ["  stack web: broke the lock of ops@laptop pid 7 (run run-a, stack_lock_break)"]


def test_the_apply_in_check_mode_takes_nothing_and_names_the_holder():
    store, clock = Store(), Clock()
    hold = apply_hold(store, clock, check_mode=True)
    assert hold.take() is None and store.objects == {} and hold.answer()["msg"] is None
    apply_hold(store, clock, run="run-a").take()
    hold = apply_hold(store, clock, check_mode=True)
    assert hold.take() is None and hold.answer()["held"] is False
    assert hold.answer()["msg"].startswith("stack web is being deployed by ops@laptop pid 7 (run run-a)")


def test_a_give_back_the_engine_fails_leaves_the_lock_held_for_the_controllers_release():
    store, clock = Store(), Clock()
    hold = apply_hold(store, clock)
    hold.take()

    def engine_down():
        raise IOError("connection refused")
    store.before_remove.append(engine_down)
    hold.give_back(errors=(IOError,))
    assert hold.answer()["held"] is True and len(store.objects) == 1
