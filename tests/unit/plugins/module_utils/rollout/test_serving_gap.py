"""Recreate's downtime from the tasks' own timestamps."""
from ansible_collections.conductor.swarm.plugins.module_utils.rollout.serving_gap import serving_gap
from ansible_collections.conductor.swarm.plugins.module_utils.rollout_state import parse_timestamp

NEW = {"ContainerSpec": {"Image": "reg/app:2"}}
OLD = {"ContainerSpec": {"Image": "reg/app:1"}}
SERVICE = {"ID": "s1", "Spec": {"Name": "shop_web", "TaskTemplate": NEW}}
START = parse_timestamp("2026-12-01T10:00:00Z")


def task(spec, state, at):
    return {"ServiceID": "s1", "Spec": spec, "Status": {"State": state, "Timestamp": "2026-12-01T10:00:%sZ" % at}}


def test_all_old_tasks_stopped_before_the_first_new_one_ran():
    tasks = [task(OLD, "shutdown", "01.5"), task(OLD, "shutdown", "02.0"), task(NEW, "running", "05.2"),
             task(NEW, "running", "06.0")]
    assert serving_gap(SERVICE, tasks, START) == 3.2


def test_start_first_has_no_gap():
    tasks = [task(NEW, "running", "03.0"), task(OLD, "shutdown", "04.0")]
    assert serving_gap(SERVICE, tasks, START) == 0.0


def test_tasks_from_before_the_rollout_and_first_deploys_say_nothing():
    assert serving_gap(SERVICE, [task(NEW, "running", "05.0")], START) is None
    old_history = [task(OLD, "shutdown", "01.0"), task(NEW, "running", "05.0")]
    assert serving_gap(SERVICE, old_history, parse_timestamp("2026-12-01T10:00:02Z")) is None
