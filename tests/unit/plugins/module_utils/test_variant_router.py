"""The router that holds a colour-rolled service's name: built from the example stack and a recorded edge service."""
import json
from pathlib import Path

import pytest
import yaml

from ansible_collections.conductor.swarm.plugins.module_utils.compose.api import convert_stack, load_stack
from ansible_collections.conductor.swarm.plugins.module_utils import variants as v
from ansible_collections.conductor.swarm.plugins.module_utils.variant_router import (
    ROUTER_LABEL, RouterError, is_router, router_name, router_spec)

ROOT = Path(__file__).resolve().parents[4]
STACK_DIR = ROOT / "examples" / "stack"
# GET /services/edge_proxy on the lab, as the edge_proxy role deployed it.
EDGE = json.loads((Path(__file__).parent / "fixtures" / "edge" / "edge_proxy_service.json").read_text())


def example_web():
    def read_file(path):
        return (STACK_DIR / path).read_bytes()
    documents = [yaml.safe_load((STACK_DIR / name).read_text()) for name in ("demo.yml", "edge.yml")]
    compose = load_stack(documents, {"REGISTRY": "reg:5000"}, read_file)
    return convert_stack("shop", compose, read_file)["services"]["shop_web"]


def aliases(spec):
    return dict((n["Target"], n.get("Aliases")) for n in spec["TaskTemplate"]["Networks"])


def test_the_example_web_answers_to_its_name_on_both_networks():
    # The premise of the router: the Compose name is an alias on every network.
    assert aliases(example_web()) == {"conductor-edge": ["web"], "shop_backend": ["web"]}


def test_a_colour_answers_to_its_own_name_only():
    web = example_web()
    green = v.as_variant(web, "shop_web", v.GREEN)
    assert aliases(green) == {"conductor-edge": ["web-green"], "shop_backend": ["web-green"]}
    assert aliases(v.as_variant(web, "shop_web", v.PLAIN)) == aliases(web)


def test_the_router_holds_the_name_on_the_stack_networks_and_reaches_tasks_on_the_edge():
    web = example_web()
    spec = router_spec("shop_web", web, EDGE)
    assert spec["Name"] == router_name("shop_web") == "shop_web-router" and is_router(spec)
    assert spec["Labels"] == {"com.docker.stack.namespace": "shop", "conductor.swarm.route-key": "shop_web",
                              ROUTER_LABEL: "shop_web"}
    # The control network: where it reads the swarm from the edge's read-only Docker API.
    assert aliases(spec) == {"conductor-edge": None, "conductor-edge-control": None, "shop_backend": ["web"]}
    container = spec["TaskTemplate"]["ContainerSpec"]
    # The agent's image (the edge proxy's own image is HAProxy's), named by the edge service's label.
    assert container["Image"] == EDGE["Spec"]["Labels"]["conductor.swarm.edge.agent-image"]
    assert container["Image"] != EDGE["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    assert container["Env"] == ["EDGE_HTTP_PORT=8080", "EDGE_NETWORK=conductor-edge", "EDGE_ROUTE=shop_web",
                                "EDGE_SERVICE=edge_proxy", "EDGE_DOCKER_URL=http://edge_api:2375"]
    # No Docker socket, no manager constraint: it runs on any node.
    assert "Mounts" not in container and spec["TaskTemplate"]["Placement"] == {}
    assert spec["EndpointSpec"] == {"Mode": "dnsrr"}  # as the service's own: no VIP in the lab
    assert spec["UpdateConfig"]["Order"] == "start-first" and container["Healthcheck"]["Test"][0] == "CMD"
    # The route's own labels stay on the colours: the edge must not take the router for a variant.
    assert not [k for k in spec["Labels"] if k.startswith("conductor.swarm.route.")]


def test_a_router_is_refused_without_a_port_label_or_off_the_edge_network():
    web = example_web()
    no_port = dict(web, Labels=dict((k, val) for k, val in web["Labels"].items() if k != "conductor.swarm.route.port"))
    with pytest.raises(RouterError, match="no conductor.swarm.route.port label"):
        router_spec("shop_web", no_port, EDGE)
    task = dict(web["TaskTemplate"], Networks=[n for n in web["TaskTemplate"]["Networks"] if n["Target"] != "conductor-edge"])
    with pytest.raises(RouterError, match="not on the edge network conductor-edge"):
        router_spec("shop_web", dict(web, TaskTemplate=task), EDGE)
    # An edge proxy deployed by an earlier version of the role names no agent image.
    bare = {"Spec": {"Name": "edge_proxy", "Labels": {"conductor.swarm.edge.network": "conductor-edge"},
                     "TaskTemplate": {"ContainerSpec": {"Image": "x"}}}}
    with pytest.raises(RouterError, match="has no label conductor.swarm.edge.agent-image, "
                       "conductor.swarm.edge.control-network, conductor.swarm.edge.docker-api"):
        router_spec("shop_web", web, bare)
