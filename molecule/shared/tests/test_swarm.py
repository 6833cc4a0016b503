"""The swarm matches the inventory: run on every lab host, and once on the first manager."""
import json

from conftest import group, load_inventory


def role_of(name, inv):
    for g in ("managers", "workers", "retired"):
        if name in group(inv, g):
            return g
    return None


def test_engine_is_enabled_and_running_under_systemd(host):
    docker = host.service("docker")
    assert docker.is_enabled
    assert docker.is_running
    assert host.check_output("systemctl is-active docker") == "active"


def test_daemon_json_rotates_logs(host):
    daemon = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert daemon["log-driver"] == "json-file"
    assert daemon["log-opts"] == {"max-size": "10m", "max-file": "3"}


def test_node_swarm_state_matches_its_group(host):
    inv = load_inventory()
    name = host.backend.get_hostname()
    state = host.check_output("docker info --format '{{.Swarm.LocalNodeState}}'")
    control = host.check_output("docker info --format '{{.Swarm.ControlAvailable}}'")
    expected = role_of(name, inv)
    if expected == "retired":
        assert state == "inactive"
    else:
        assert state == "active"
        assert control == ("true" if expected == "managers" else "false")


def test_node_list_matches_inventory(manager, inventory):
    ids = manager.check_output("docker node ls -q").split()
    nodes = json.loads(manager.check_output("docker node inspect %s" % " ".join(ids)))
    by_name = dict((n["Description"]["Hostname"], n) for n in nodes)
    managers, workers = group(inventory, "managers"), group(inventory, "workers")
    assert sorted(by_name) == sorted(managers + workers), "nodes not in the inventory must be gone"
    hostvars = {}
    for g in ("managers", "workers"):
        hostvars.update(inventory["all"]["children"][g]["hosts"])
    for name, node in by_name.items():
        assert node["Status"]["State"] == "ready", name
        assert node["Spec"]["Availability"] == "active", name
        assert node["Spec"]["Role"] == ("manager" if name in managers else "worker"), name
        assert node["Spec"].get("Labels") == hostvars[name]["swarm_cluster_node_labels"], name
        if name in managers:
            assert node["ManagerStatus"]["Reachability"] == "reachable", name
    assert sum(1 for n in nodes if (n.get("ManagerStatus") or {}).get("Leader")) == 1


def test_advertise_addresses_are_the_hosts_own(manager):
    ids = manager.check_output("docker node ls -q").split()
    nodes = json.loads(manager.check_output("docker node inspect %s" % " ".join(ids)))
    addrs = [n["Status"]["Addr"] for n in nodes]
    assert len(set(addrs)) == len(addrs)
    assert not any(a.startswith("127.") or a == "0.0.0.0" for a in addrs)
