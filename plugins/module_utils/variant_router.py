# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The router that holds a colour-rolled service's name inside its stack.

Callers inside the stack reach `web` by its name. Once `web` runs as colours
(`web-blue`, `web-green`), the colours keep only their own names, and the
service `<stack>_web-router` holds `web` (and any alias the Compose file
gives it) on the stack's networks: the edge agent's image in router mode
(EDGE_ROUTE: the agent with HAProxy as its child), which sends every request
to what the edge's routing state says, so internal traffic switches and
splits with external traffic. It reads the swarm from the edge's read-only
Docker API on the edge's control network, so it runs on any node.

Pure logic: builds the router's service spec from the colour's spec and the
edge proxy's service (its labels name the agent's image and the networks).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.conductor.swarm.plugins.module_utils.edge.routes import LABEL_PORT, ROUTE_KEY_LABEL
from ansible_collections.conductor.swarm.plugins.module_utils.labels import (
    EDGE_AGENT_IMAGE_LABEL,
    EDGE_CONTROL_LABEL,
    EDGE_DOCKER_API_LABEL,
    EDGE_NETWORK_LABEL,
    NAMESPACE_LABEL,
    ROUTER_LABEL,
)

SUFFIX = "-router"
SECOND = 1000000000
# Healthy once haproxy answers the agent (its status names haproxy's pid), that is, serves the swarm's state.
HEALTH_TEST = ["CMD", "python3", "-c", "import http.client, json; conn = http.client.HTTPConnection('127.0.0.1', 8405, "
               "timeout=2); conn.request('GET', '/status'); status = json.load(conn.getresponse()); "
               "raise SystemExit(0 if status['haproxy'].get('pid') else 1)"]


class RouterError(ValueError):
    """The router cannot be built (the message says what is missing)."""


def router_name(route):
    return route + SUFFIX


def is_router(service_spec):
    return ROUTER_LABEL in ((service_spec or {}).get("Labels") or {})


def edge_settings(edge_service):
    """{image, network, control, docker_api} from the edge proxy's live service labels."""
    spec = (edge_service or {}).get("Spec") or {}
    labels = spec.get("Labels") or {}
    keys = (("image", EDGE_AGENT_IMAGE_LABEL), ("network", EDGE_NETWORK_LABEL), ("control", EDGE_CONTROL_LABEL),
            ("docker_api", EDGE_DOCKER_API_LABEL))
    missing = [label for _key, label in keys if not labels.get(label)]
    if missing:
        raise RouterError("the edge proxy's service %s has no label %s (redeploy it with this version's "
                          "conductor.swarm.edge_proxy role)" % (spec.get("Name"), ", ".join(missing)))
    return dict((key, labels[label]) for key, label in keys)


def router_spec(route, plain, edge_service):
    """The router's service spec: `plain` is the service's spec as the Compose file gives it."""
    edge = edge_settings(edge_service)
    edge_network = edge["network"]
    labels = plain.get("Labels") or {}
    port = labels.get(LABEL_PORT)
    if not port:
        raise RouterError("service %s has no %s label: the router needs the port its callers use" % (route, LABEL_PORT))
    stack = labels.get(NAMESPACE_LABEL)
    task = plain.get("TaskTemplate") or {}
    networks = []
    for attachment in task.get("Networks") or []:
        if attachment.get("Target") == edge_network:
            networks.append({"Target": edge_network})  # where it reaches the colours' tasks; no alias there
        else:
            networks.append(dict((k, v) for k, v in attachment.items() if k in ("Target", "Aliases")))
    if not any(n["Target"] == edge_network for n in networks):
        raise RouterError("service %s is not on the edge network %s" % (route, edge_network))
    # Where it reads services, tasks and the routing state (GET only), like the edge's agents.
    networks.append({"Target": edge["control"]})
    env = ["EDGE_HTTP_PORT=%s" % port, "EDGE_NETWORK=%s" % edge_network, "EDGE_ROUTE=%s" % route,
           "EDGE_SERVICE=%s" % (edge_service["Spec"]["Name"]), "EDGE_DOCKER_URL=%s" % edge["docker_api"]]
    container = {
        "Image": edge["image"],
        "Labels": {NAMESPACE_LABEL: stack},
        "Env": env,
        "Healthcheck": {"Test": HEALTH_TEST, "Interval": 2 * SECOND, "Timeout": 3 * SECOND, "Retries": 3,
                        "StartPeriod": 10 * SECOND},
        "StopGracePeriod": 30 * SECOND,
    }
    return {
        "Name": router_name(route),
        "Labels": {NAMESPACE_LABEL: stack, ROUTE_KEY_LABEL: route, ROUTER_LABEL: route},
        "TaskTemplate": {
            "ContainerSpec": container,
            "Resources": {},
            "RestartPolicy": {"Condition": "any", "Delay": SECOND, "MaxAttempts": 0},
            "Placement": {},
            "Networks": sorted(networks, key=lambda n: n["Target"]),
            "ForceUpdate": 0,
        },
        "Mode": {"Replicated": {"Replicas": 1}},
        # No host port: the new router starts before the old one stops.
        "UpdateConfig": {"Parallelism": 1, "Order": "start-first", "FailureAction": "rollback",
                         "Monitor": 5 * SECOND, "MaxFailureRatio": 0},
        "RollbackConfig": {"Parallelism": 1, "Order": "start-first", "FailureAction": "pause",
                           "Monitor": 5 * SECOND, "MaxFailureRatio": 0},
        "EndpointSpec": {"Mode": ((plain.get("EndpointSpec") or {}).get("Mode") or "vip")},
    }
