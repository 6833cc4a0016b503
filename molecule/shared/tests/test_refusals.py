"""Bad input gets a clear error and changes nothing on the swarm."""
import copy

import pytest

from conftest import group, lab_host, node_snapshot, run_provision, wait_until


def children(inv):
    return inv["all"]["children"]


def test_no_manager_is_refused(inventory, manager):
    before = node_snapshot(manager)
    inv = copy.deepcopy(inventory)
    children(inv)["workers"]["hosts"].update(children(inv)["managers"]["hosts"])
    children(inv)["managers"]["hosts"] = {}
    proc = run_provision(inv, "no-manager")
    assert proc.returncode != 0
    assert "the inventory has no host in group 'managers'" in proc.stdout
    assert node_snapshot(manager) == before


def test_host_in_both_groups_is_refused(inventory, manager):
    before = node_snapshot(manager)
    inv = copy.deepcopy(inventory)
    twice = group(inv, "workers")[0]
    children(inv)["managers"]["hosts"][twice] = children(inv)["workers"]["hosts"][twice]
    proc = run_provision(inv, "both-groups")
    assert proc.returncode != 0
    assert "host(s) %s are in both 'managers' and 'workers'" % twice in proc.stdout
    assert node_snapshot(manager) == before


def test_unreachable_host_is_refused_before_any_change(inventory, manager):
    before = node_snapshot(manager)
    inv = copy.deepcopy(inventory)
    lost = group(inv, "workers")[-1]
    # Nothing listens on port 9 of the loopback: the host is unreachable.
    children(inv)["workers"]["hosts"][lost]["ansible_port"] = 9
    # A change that would be made if the run went on: it must not be.
    keeper = group(inv, "workers")[0]
    children(inv)["workers"]["hosts"][keeper]["swarm_cluster_node_labels"] = {"must": "not-apply"}
    proc = run_provision(inv, "unreachable")
    assert proc.returncode != 0
    assert "host(s) %s could not be reached" % lost in proc.stdout.replace("\n", " ")
    assert node_snapshot(manager) == before


def test_even_managers_warn_and_check_mode_changes_nothing(inventory, manager):
    before = node_snapshot(manager)
    inv = copy.deepcopy(inventory)
    promoted = group(inv, "workers")[0]
    children(inv)["managers"]["hosts"][promoted] = children(inv)["workers"]["hosts"].pop(promoted)
    count = len(group(inv, "managers"))
    proc = run_provision(inv, "check-mode-promote", "--check", "--diff")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "%d managers tolerate no more manager failures than %d" % (count, count - 1) in proc.stdout
    assert "promote %s" % promoted in proc.stdout
    assert node_snapshot(manager) == before


def test_change_that_would_lose_quorum_is_refused(inventory, manager):
    managers = group(inventory, "managers")
    if len(managers) < 3:
        pytest.skip("needs 3 managers; this scenario has %d (runs in three_managers)" % len(managers))
    keeper, demoted, down = managers[0], managers[1], managers[2]
    before = node_snapshot(manager)
    down_host = lab_host(down)
    down_host.run("systemctl stop docker.socket docker.service")
    try:
        wait_until("%s to be unreachable" % down, lambda: manager.check_output(
            "docker node inspect %s --format '{{.ManagerStatus.Reachability}}'" % down) == "unreachable")
        inv = copy.deepcopy(inventory)
        c = children(inv)
        c["workers"]["hosts"][demoted] = c["managers"]["hosts"].pop(demoted)
        c["managers"]["hosts"].pop(down)  # out of the inventory, but kept in the swarm
        proc = run_provision(inv, "lose-quorum", "-e", "swarm_cluster_remove_absent=false")
        assert proc.returncode != 0
        assert "demoting %s would lose quorum: 1 of the remaining 2 managers reachable" % demoted \
            in proc.stdout.replace("\n", " ")
        assert node_snapshot(manager) == before
    finally:
        down_host.run("systemctl start docker.service")
        wait_until("%s to be reachable again" % down, lambda: manager.check_output(
            "docker node inspect %s --format '{{.ManagerStatus.Reachability}} {{.Status.State}}'"
            % down) == "reachable ready")
    assert keeper in node_snapshot(manager)
