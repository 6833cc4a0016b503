# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The router that holds a colour-rolled service's name inside its stack.

Callers inside the stack reach `web` by its name. Once `web` runs as colours
(`web-blue`, `web-green`), the colours keep only their own names, and the
service `<stack>_web-router` holds `web` (and any alias the Compose file
gives it) on the stack's networks: the edge proxy's image in router mode
(EDGE_ROUTE), which sends every request to what the edge's routing state
says, so internal traffic switches and splits with external traffic.

Pure logic: builds the router's service spec from the colour's spec and the
edge proxy's service.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.conductor.swarm.plugins.module_utils.edge.routes import LABEL_PORT, ROUTE_KEY_LABEL
from ansible_collections.conductor.swarm.plugins.module_utils.stack_diff import NAMESPACE_LABEL

ROUTER_LABEL = "conductor.swarm.router-for"
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
    """(image, network) of the edge proxy, from its live service: the router runs the same image."""
    spec = (edge_service or {}).get("Spec") or {}
    container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
    env = dict(e.split("=", 1) for e in container.get("Env") or [] if "=" in e)
    if not container.get("Image") or not env.get("EDGE_NETWORK"):
        raise RouterError("the edge proxy's service %s names no image or no EDGE_NETWORK" % spec.get("Name"))
    return container["Image"], env["EDGE_NETWORK"]


def router_spec(route, plain, edge_service):
    """The router's service spec: `plain` is the service's spec as the Compose file gives it."""
    image, edge_network = edge_settings(edge_service)
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
    env = ["EDGE_HTTP_PORT=%s" % port, "EDGE_NETWORK=%s" % edge_network, "EDGE_ROUTE=%s" % route,
           "EDGE_SERVICE=%s" % (edge_service["Spec"]["Name"])]
    container = {
        "Image": image,
        "Labels": {NAMESPACE_LABEL: stack},
        "Env": env,
        # Like the edge, it reads services, tasks and the routing state (GET only).
        "Mounts": [{"Type": "bind", "Source": "/var/run/docker.sock", "Target": "/var/run/docker.sock"}],
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
            "Placement": {"Constraints": ["node.role == manager"]},
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
