import copy
import json
from pathlib import Path

import pytest

from ansible_collections.conductor.swarm.plugins.module_utils.edge.routing_plan import (
    backend_name, decide_split, split_map_value, task_address, task_servers)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rollout"
NET_ID = "31pqqepz0mzzfbvlmffsszggb"  # shop_default in the recorded tasks


def route(*variants):
    return {"key": "web", "hosts": (), "path": "/",
            "variants": dict((v, {"service": "web-" + v, "service_id": "svc-" + v, "port": 8080, "health": "/healthz"})
                             for v in variants)}


def recorded_task(state, desired, service_id="svc-blue", task_id="t1", address="10.0.1.143/24"):
    task = copy.deepcopy(json.loads((FIXTURES / "web_update_healthy.tasks.json").read_text())[0])
    task.update({"ID": task_id, "ServiceID": service_id, "DesiredState": desired})
    task["Status"]["State"] = state
    task["NetworksAttachments"][0]["Addresses"] = [address]
    return task


def test_task_address_by_network_id_or_name():
    task = recorded_task("running", "running")
    assert task_address(task, NET_ID, None) == "10.0.1.143"
    assert task_address(task, None, "shop_default") == "10.0.1.143"
    assert task_address(task, "other", "other_net") is None


def test_running_tasks_become_servers_and_leaving_ones_are_drained():
    tasks = [recorded_task("running", "running", task_id="a", address="10.0.1.2/24"),
             recorded_task("running", "shutdown", task_id="b", address="10.0.1.3/24"),
             recorded_task("shutdown", "shutdown", task_id="c"),
             recorded_task("starting", "running", task_id="d"),
             recorded_task("running", "running", service_id="svc-green", task_id="e", address="10.0.1.4/24"),
             recorded_task("running", "running", service_id="unrouted", task_id="f")]
    wanted = task_servers({"web": route("blue", "green")}, tasks, NET_ID, "shop_default")
    assert sorted(wanted) == ["be_web_blue", "be_web_green", "be_web_plain"]
    assert wanted["be_web_blue"] == {
        "t_a": {"addr": "10.0.1.2", "port": 8080, "task_id": "a", "service": "web-blue", "want": "ready", "maxconn": None},
        "t_b": {"addr": "10.0.1.3", "port": 8080, "task_id": "b", "service": "web-blue", "want": "drain", "maxconn": None}}
    assert list(wanted["be_web_green"]) == ["t_e"]
    assert wanted["be_web_plain"] == {}


@pytest.mark.parametrize("variants, entry, up, expected", [
    # no state: the first of plain, blue, green with a server up
    (("blue", "green"), None, {"blue", "green"}, ("blue", "blue", 0, None)),
    (("plain",), None, {"plain"}, ("plain", "plain", 0, None)),
    (("blue", "green"), None, {"green"}, ("green", "green", 0, None)),
    (("blue", "green"), None, set(), ("blue", "blue", 0, None)),
    # with state
    (("blue", "green"), {"green": 10, "preview": "green"}, {"blue", "green"}, ("blue", "green", 10, "green")),
    (("blue", "green"), {"green": 0, "preview": None}, {"blue", "green"}, ("blue", "blue", 0, None)),
    (("blue", "green"), {"green": 100, "preview": "blue"}, {"blue", "green"}, ("green", "green", 100, "blue")),
    (("plain", "green"), {"green": 50, "preview": None}, {"plain", "green"}, ("plain", "green", 50, None)),
    # fallbacks: never to a side with no server up while the other has one
    (("blue", "green"), {"green": 100, "preview": None}, {"blue"}, ("blue", "blue", 0, None)),
    (("blue", "green"), {"green": 10, "preview": "green"}, {"blue"}, ("blue", "blue", 0, None)),
    (("blue", "green"), {"green": 0, "preview": None}, {"green"}, ("green", "green", 100, None)),
    (("plain", "blue", "green"), {"green": 50, "preview": None}, {"plain"}, ("plain", "plain", 0, None)),
    (("blue", "green"), {"green": 50, "preview": None}, set(), ("blue", "green", 50, None)),
])
def test_decide_split(variants, entry, up, expected):
    split = decide_split(route(*variants), entry, up)
    assert (split["main"], split["alt"], split["green"], split["preview"]) == expected


def test_fallbacks_are_reported():
    split = decide_split(route("blue", "green"), {"green": 100, "preview": "green"}, {"blue"})
    assert split["fallback"] is True
    assert split["notes"] == ["web: green has no server up, sending 100 % to blue instead",
                              "web: preview variant green has no server up, preview requests are routed like others"]
    assert decide_split(route("blue", "green"), {"green": 10, "preview": None}, {"blue", "green"})["notes"] == []
    assert decide_split(route("blue", "green"), {"green": 10, "preview": None}, {"blue", "green"})["fallback"] is False
    # Without a state entry there is nothing to fall back from, only a note when several variants run.
    no_state = decide_split(route("blue", "green"), None, {"blue", "green"})
    assert no_state["fallback"] is False and "no routing state for web" in no_state["notes"][0]
    assert decide_split(route("blue"), {"green": 0, "preview": None}, set())["notes"] == ["web: no server up in any variant"]


def test_split_map_value():
    assert backend_name("web", "green") == "be_web_green"
    split = {"main": "blue", "alt": "green", "green": 10, "preview": "green"}
    assert split_map_value("web", split) == "10:be_web_blue:be_web_green:be_web_green"
    assert split_map_value("web", dict(split, preview=None)) == "10:be_web_blue:be_web_green:"
