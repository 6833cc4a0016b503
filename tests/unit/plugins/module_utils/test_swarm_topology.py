import pytest

from ansible_collections.conductor.swarm.plugins.module_utils.swarm_topology import (
    TopologyError,
    check_quorum,
    live_node_from_api,
    plan_membership,
    summarize,
    validate_groups,
)


def node(node_id, role="worker", state="ready", reach=None, labels=None, availability="active",
         hostname=None):
    reach = reach if reach is not None else ("reachable" if role == "manager" and state == "ready"
                                             else "unreachable" if role == "manager" else None)
    return {"id": node_id, "hostname": hostname or node_id, "role": role, "availability": availability,
            "labels": labels or {}, "state": state, "reachability": reach, "leader": False}


def want(name, role="worker", labels=None, availability=None, node_id=None):
    return {"name": name, "node_id": node_id if node_id is not None else name, "role": role,
            "labels": labels, "availability": availability}


# --- validate_groups -------------------------------------------------------------

def test_no_manager_is_an_error():
    errors, _warnings = validate_groups([], ["w1"])
    assert errors == ["the inventory has no host in group 'managers': a swarm needs at least one manager"]


def test_host_in_both_groups_is_named():
    errors, _warnings = validate_groups(["m1", "x"], ["x", "w1"])
    assert len(errors) == 1 and "x" in errors[0] and "both" in errors[0]


def test_retired_host_still_in_a_group_is_an_error():
    errors, _warnings = validate_groups(["m1"], ["w1"], ["w1"])
    assert errors and "w1" in errors[0] and "retired" in errors[0]


def test_duplicate_in_a_group_is_an_error():
    errors, _warnings = validate_groups(["m1", "m1"], [])
    assert errors == ["group 'managers' lists m1 more than once"]


@pytest.mark.parametrize("count,warned", [(1, False), (2, True), (3, False), (4, True), (5, False)])
def test_even_managers_warn(count, warned):
    errors, warnings = validate_groups(["m%d" % i for i in range(count)], ["w"])
    assert errors == []
    assert bool(warnings) is warned
    if warned:
        assert "odd number" in warnings[0]


def test_more_than_seven_managers_warn():
    _errors, warnings = validate_groups(["m%d" % i for i in range(9)], [])
    assert any("more than 7" in w for w in warnings)


# --- live_node_from_api ----------------------------------------------------------

def test_live_node_from_api_reads_the_fields_the_plan_needs():
    api = {"ID": "abc", "Description": {"Hostname": "lab-1"},
           "Spec": {"Role": "manager", "Availability": "active", "Labels": {"zone": "z1"}},
           "Status": {"State": "ready"},
           "ManagerStatus": {"Leader": True, "Reachability": "reachable"}}
    assert live_node_from_api(api) == {
        "id": "abc", "hostname": "lab-1", "role": "manager", "availability": "active",
        "labels": {"zone": "z1"}, "state": "ready", "reachability": "reachable", "leader": True}


def test_live_worker_has_no_reachability():
    api = {"ID": "w", "Spec": {"Role": "worker"}, "Status": {"State": "down"}}
    assert live_node_from_api(api)["reachability"] is None


# --- plan_membership -------------------------------------------------------------

def test_converged_swarm_plans_nothing():
    live = [node("m1", "manager", labels={"zone": "a"}), node("w1", labels={"zone": "b"})]
    plan = plan_membership(live, [want("m1", "manager", {"zone": "a"}, "active"),
                                  want("w1", "worker", {"zone": "b"}, "active")])
    assert plan == {"steps": [], "warnings": []}


def test_hosts_not_joined_yet_are_skipped():
    plan = plan_membership([node("m1", "manager")], [want("m1", "manager"), want("w9", node_id="")])
    assert plan["steps"] == []


def test_labels_are_replaced_when_exclusive_and_merged_otherwise():
    live = [node("m1", "manager"), node("w1", labels={"zone": "a", "other": "x"})]
    desired = [want("m1", "manager"), want("w1", labels={"zone": "b"})]
    exclusive = plan_membership(live, desired)["steps"]
    merged = plan_membership(live, desired, exclusive_labels=False)["steps"]
    assert exclusive == [{"action": "update", "node_id": "w1", "name": "w1", "labels": {"zone": "b"}}]
    assert merged == [{"action": "update", "node_id": "w1", "name": "w1",
                       "labels": {"zone": "b", "other": "x"}}]


def test_label_values_compare_as_strings():
    live = [node("m1", "manager", labels={"rack": "3"})]
    assert plan_membership(live, [want("m1", "manager", {"rack": 3})])["steps"] == []


def test_labels_none_leaves_labels_alone():
    live = [node("m1", "manager", labels={"keep": "me"})]
    assert plan_membership(live, [want("m1", "manager", None)])["steps"] == []


def test_promotions_come_before_demotions():
    live = [node("m1", "manager"), node("w1"), node("w2")]
    steps = plan_membership(live, [want("m1", "worker"), want("w1", "manager"), want("w2", "manager")])["steps"]
    assert [(s["action"], s["name"]) for s in steps] == [
        ("promote", "w1"), ("promote", "w2"), ("demote", "m1")]


def test_absent_nodes_are_removed_last_unreachable_managers_first():
    live = [node("m1", "manager"), node("m2", "manager"), node("m3", "manager", state="down"),
            node("w1"), node("w2")]
    steps = plan_membership(live, [want("m1", "manager"), want("w1")])["steps"]
    assert [(s["action"], s["name"]) for s in steps] == [
        ("remove", "m3"), ("remove", "m2"), ("remove", "w2")]


def test_absent_nodes_kept_with_a_warning_when_not_removing():
    live = [node("m1", "manager"), node("w1"), node("w2")]
    plan = plan_membership(live, [want("m1", "manager"), want("w1")], remove_absent=False)
    assert plan["steps"] == []
    assert plan["warnings"] == ["nodes not in the inventory were kept: w2"]


def test_unknown_node_id_is_refused_with_the_fix():
    with pytest.raises(TopologyError, match="docker swarm leave --force"):
        plan_membership([node("m1", "manager")], [want("m1", "manager"), want("w1", node_id="stale")])


# --- quorum --------------------------------------------------------------------------

def test_removing_a_reachable_manager_while_another_is_down_loses_quorum():
    live = [node("m1", "manager"), node("m2", "manager"), node("m3", "manager", state="down")]
    with pytest.raises(TopologyError, match="would lose quorum: 1 of the remaining 2"):
        plan_membership(live, [want("m1", "manager"), want("m3", "manager")])


def test_removing_the_unreachable_manager_is_allowed():
    live = [node("m1", "manager"), node("m2", "manager"), node("m3", "manager", state="down")]
    steps = plan_membership(live, [want("m1", "manager"), want("m2", "manager")])["steps"]
    assert [(s["action"], s["name"]) for s in steps] == [("remove", "m3")]


def test_shrinking_three_healthy_managers_to_one_is_allowed():
    live = [node("m1", "manager"), node("m2", "manager"), node("m3", "manager")]
    steps = plan_membership(live, [want("m1", "manager"), want("m2"), want("m3")])["steps"]
    assert [s["action"] for s in steps] == ["demote", "demote"]


def test_a_swarm_that_already_lost_quorum_is_refused():
    live = [node("m1", "manager"), node("m2", "manager", state="down"), node("m3", "manager", state="down")]
    with pytest.raises(TopologyError, match="already lost quorum: 1 of 3"):
        plan_membership(live, [want("m1", "manager"), want("m2", "manager"), want("m3", "manager")])


def test_demoting_every_manager_is_refused():
    live = [node("m1", "manager"), node("w1")]
    with pytest.raises(TopologyError, match="without a manager"):
        check_quorum(live, [{"action": "demote", "node_id": "m1", "name": "m1"}])


def test_promoting_first_keeps_quorum_while_swapping_the_only_manager():
    live = [node("m1", "manager"), node("w1")]
    steps = plan_membership(live, [want("m1", "worker"), want("w1", "manager")])["steps"]
    assert [(s["action"], s["name"]) for s in steps] == [("promote", "w1"), ("demote", "m1")]


def test_promoting_a_down_node_does_not_count_as_reachable():
    live = [node("m1", "manager"), node("w1", state="down")]
    with pytest.raises(TopologyError, match="promoting w1 would lose quorum: 1 of the remaining 2"):
        plan_membership(live, [want("m1", "worker"), want("w1", "manager")])


def test_summarize_says_each_step():
    steps = [{"action": "promote", "node_id": "a", "name": "a", "role": "manager"},
             {"action": "update", "node_id": "b", "name": "b", "availability": "drain",
              "labels": {"z": "1", "a": "2"}}]
    assert summarize(steps) == ["promote a", "update b: availability=drain labels=a=2,z=1"]


def test_retired_nodes_are_removed_even_when_not_removing_absent_ones():
    live = [node("m1", "manager"), node("w1"), node("w2"), node("w3")]
    desired = [want("m1", "manager"), want("w1"), dict(want("w2"), state="absent")]
    plan = plan_membership(live, desired, remove_absent=False)
    assert [(s["action"], s["name"]) for s in plan["steps"]] == [("remove", "w2")]
    assert plan["warnings"] == ["nodes not in the inventory were kept: w3"]


def test_retired_host_that_already_left_is_nothing_to_do():
    plan = plan_membership([node("m1", "manager")], [want("m1", "manager"), dict(want("gone"), state="absent")])
    assert plan["steps"] == []
