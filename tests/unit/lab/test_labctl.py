import yaml

import labctl


def test_inventory_groups_and_connection():
    hosts = [{"name": "lab-%d" % i, "port": 32000 + i, "zone": "z%d" % i} for i in (1, 2, 3)]
    inv = yaml.safe_load(labctl.render_inventory(hosts, 1, "/k/id"))
    assert inv["all"]["vars"]["ansible_host"] == "127.0.0.1"
    assert inv["all"]["vars"]["ansible_ssh_private_key_file"] == "/k/id"
    assert inv["all"]["vars"]["docker_engine_daemon_options"] == {"insecure-registries": ["lab-registry:5000"]}
    children = inv["all"]["children"]
    assert list(children["managers"]["hosts"]) == ["lab-1"]
    assert list(children["workers"]["hosts"]) == ["lab-2", "lab-3"]
    assert children["retired"]["hosts"] == {}
    assert children["workers"]["hosts"]["lab-3"] == {
        "ansible_port": 32003, "swarm_cluster_node_labels": {"zone": "z3"}}


def test_three_managers_of_five():
    hosts = [{"name": "lab-%d" % i, "port": i, "zone": "z"} for i in range(1, 6)]
    children = yaml.safe_load(labctl.render_inventory(hosts, 3, "/k"))["all"]["children"]
    assert list(children["managers"]["hosts"]) == ["lab-1", "lab-2", "lab-3"]
    assert list(children["workers"]["hosts"]) == ["lab-4", "lab-5"]


def test_recipe_digest_is_stable():
    assert labctl.recipe_digest() == labctl.recipe_digest()
    assert labctl.image_tag().startswith(labctl.IMAGE_REPO + ":")


def test_the_edge_port_of_each_host_is_in_the_inventory():
    hosts = [{"name": "lab-1", "port": 32001, "zone": "z1", "edge_port": 33001},
             {"name": "lab-2", "port": 32002, "zone": "z2", "edge_port": None}]
    children = yaml.safe_load(labctl.render_inventory(hosts, 1, "/k"))["all"]["children"]
    assert children["managers"]["hosts"]["lab-1"]["lab_edge_http_port"] == 33001
    assert "lab_edge_http_port" not in children["workers"]["hosts"]["lab-2"]
