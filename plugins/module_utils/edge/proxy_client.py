# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The edge proxy as a manager sees it: its routing state on its service, its replicas' status.

The routing state is written to the proxy service's labels (a label-only
update restarts no task); every proxy task's agent applies it through
HAProxy's Runtime API and reports the generation it applied on the status
endpoint, which this reads on each edge node's published port.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.six.moves.urllib.request import Request, build_opener, ProxyHandler

from ansible_collections.conductor.swarm.plugins.module_utils.docker_client import (
    DockerException,
    RequestException,
    SwarmClient,
)
from ansible_collections.conductor.swarm.plugins.module_utils.edge.haproxy_config import STATUS_PATH
from ansible_collections.conductor.swarm.plugins.module_utils.edge.routes import VARIANTS, routes_from_services
from ansible_collections.conductor.swarm.plugins.module_utils.edge.routing_plan import backend_name
from ansible_collections.conductor.swarm.plugins.module_utils.edge.routing_state import (
    PREVIEW_HEADER,
    STATE_LABEL,
    StateError,
    parse_state,
    serialise_state,
    with_route,
)

# Swarm's optimistic lock: a label update racing another update is retried on a fresh read.
UPDATE_ATTEMPTS = 5


# The option every edge module has (doc fragment conductor.swarm.edge).
EDGE_ARGS = dict(edge_service=dict(type="str", default="edge_proxy"))


class EdgeError(Exception):
    pass


def edge_proxy_for(module):
    """The edge proxy of the swarm this module's manager runs, or a failed module."""
    client = SwarmClient(module)
    client.require_manager()
    return EdgeProxy(client, module.params["edge_service"])


def run_or_fail(module, doing, call):
    """call()'s result; an edge or Docker failure fails the module, saying what it was doing."""
    try:
        return call()
    except EdgeError as exc:
        module.fail_json(msg=str(exc))
    except StateError as exc:
        module.fail_json(msg="%s: the routing state on the edge proxy's service is unreadable: %s" % (doing, exc))
    except (DockerException, RequestException) as exc:
        module.fail_json(msg="%s: %s" % (doing, exc))


def _http(url, timeout, headers=None):
    """(status, body text) of one GET; never through an environment proxy: edge nodes are local."""
    opener = build_opener(ProxyHandler({}))
    request = Request(url, headers=headers or {})
    try:
        response = opener.open(request, timeout=timeout)
        return response.getcode(), response.read().decode("utf-8", "replace")
    except HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def merge_metrics(replica_metrics):
    """One route's figures over every proxy replica: counts added, the worst p99 kept."""
    merged = {}
    for metrics in replica_metrics:
        for variant, figures in (metrics or {}).items():
            into = merged.setdefault(variant, {"requests": 0, "errors_5xx": 0, "conn_errors": 0, "p99_ms": None})
            for key in ("requests", "errors_5xx", "conn_errors"):
                into[key] += figures.get(key) or 0
            p99 = figures.get("p99_ms")
            if p99 is not None and (into["p99_ms"] is None or p99 > into["p99_ms"]):
                into["p99_ms"] = p99
    return merged


def variant_figures(status, route, since):
    """{variant: figures} of one route from one proxy's status: the window since `since`, else since it applied."""
    window = status.get("window") if since is not None else None
    backends = (window or status.get("metrics") or {}).get("backends") or {}
    out = {}
    for variant in VARIANTS:
        counters = backends.get(backend_name(route, variant))
        if counters is None:
            continue
        out[variant] = {"requests": counters.get("requests", 0), "errors_5xx": counters.get("status_5xx", 0),
                        "conn_errors": counters.get("conn_errors", 0),
                        "p99_ms": (counters.get("latency_ms") or {}).get("p99")}
    return out


class EdgeProxy(object):
    def __init__(self, client, service_name, timeout=5):
        self.client = client
        self.name = service_name
        self.timeout = timeout

    def service(self):
        found = [s for s in self.client.api.services(filters={"name": self.name}) if s["Spec"]["Name"] == self.name]
        if not found:
            raise EdgeError("the edge proxy's service %s does not exist (deploy it with the conductor.swarm.edge_proxy "
                            "role)" % self.name)
        return found[0]

    def state(self, service=None):
        service = service or self.service()
        return parse_state((service["Spec"].get("Labels") or {}).get(STATE_LABEL))

    def set_route(self, route, green, preview):
        """Write the route's new state; (generation, changed). Retries Swarm's 'update out of sequence'."""
        for attempt in range(UPDATE_ATTEMPTS):
            service = self.service()
            state = self.state(service)
            new = with_route(state, route, green, preview)
            if new == state:
                return state["generation"], False
            spec = dict(service["Spec"])
            spec["Labels"] = dict(spec.get("Labels") or {}, **{STATE_LABEL: serialise_state(new)})
            try:
                self.client.update_service(service["ID"], service["Version"]["Index"], spec)
                return new["generation"], True
            except Exception as exc:  # pylint: disable=broad-except  # only the lock race is retried
                if "out of sequence" not in str(exc) or attempt + 1 == UPDATE_ATTEMPTS:
                    raise
        raise EdgeError("could not update %s" % self.name)

    def endpoints(self):
        """(task id, node name, base URL) of every running proxy task."""
        service = self.service()
        ports = [p for p in (service.get("Endpoint") or {}).get("Ports") or (service["Spec"].get("EndpointSpec") or {})
                 .get("Ports") or [] if p.get("PublishMode") == "host" and p.get("PublishedPort")]
        if not ports:
            raise EdgeError("the edge proxy's service %s publishes no host-mode port" % self.name)
        port = ports[0]["PublishedPort"]
        nodes = dict((n["ID"], n) for n in self.client.api.nodes())
        out = []
        for task in self.client.api.tasks(filters={"service": service["ID"], "desired-state": "running"}):
            if (task.get("Status") or {}).get("State") != "running":
                continue
            node = nodes.get(task.get("NodeID")) or {}
            addr = (node.get("Status") or {}).get("Addr")
            name = (node.get("Description") or {}).get("Hostname", task.get("NodeID"))
            if addr:
                out.append((task["ID"], name, "http://%s:%d" % (addr, port)))
        if not out:
            raise EdgeError("no task of the edge proxy %s is running" % self.name)
        return out

    def route_host(self, route):
        """A host name the route answers to, from its services' labels (None: it matches any host)."""
        routes, _errors = routes_from_services(self.client.api.services())
        hosts = (routes.get(route) or {}).get("hosts") or ()
        return hosts[0] if hosts else None

    def status(self, base, since=None):
        url = base + STATUS_PATH + ("?since=%f" % since if since is not None else "")
        try:
            code, body = _http(url, self.timeout)
        except (URLError, OSError, ValueError) as exc:
            raise EdgeError("the edge proxy at %s does not answer: %s" % (base, exc))
        if code != 200:
            raise EdgeError("the edge proxy at %s answered %s for its status: %s" % (base, code, body[:200]))
        try:
            return json.loads(body)
        except ValueError:
            raise EdgeError("the edge proxy at %s sent a status that is not JSON" % base)

    def wait_applied(self, generation, timeout, poll=0.1):
        """Seconds until every running proxy task reports `generation`; EdgeError naming the laggards."""
        start = time.time()
        while True:
            behind = []
            for _task, node, base in self.endpoints():
                try:
                    applied = self.status(base).get("generation", -1)
                except EdgeError as exc:
                    behind.append("%s (%s)" % (node, exc))
                    continue
                if applied < generation:
                    behind.append("%s (at generation %s)" % (node, applied))
            if not behind:
                return time.time() - start
            if time.time() - start > timeout:
                raise EdgeError("routing generation %d was not applied within %ss by: %s"
                                % (generation, timeout, ", ".join(behind)))
            time.sleep(poll)

    def metrics(self, route, since):
        return merge_metrics([variant_figures(self.status(base, since), route, since)
                              for _t, _n, base in self.endpoints()])

    def probe(self, route, path, variant, timeout, host=None):
        """(status or None, body or the error) of one preview request through a proxy replica.

        The proxy sends preview requests to the colour its routing state names for preview
        (set_route(..., preview=variant) first); `variant` is what the caller expects there.
        """
        _task, _node, base = self.endpoints()[0]
        headers = {PREVIEW_HEADER: "1"}
        host = host or self.route_host(route)
        if host:
            headers["Host"] = host
        try:
            return _http(base + path, timeout, headers)
        except (URLError, OSError, ValueError) as exc:
            return None, str(exc)
