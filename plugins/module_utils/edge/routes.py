# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Routes of the edge proxy, read from the labels of Swarm services.

Pure logic: standard library only. A service is routed when its Spec.Labels
carry ``conductor.swarm.route.port``; the labels, in the style of Traefik:

=================================  ========  ==========================================
label                              default   meaning
=================================  ========  ==========================================
``conductor.swarm.route.host``     (any)     exact host name(s), comma separated
``conductor.swarm.route.path``     ``/``     path prefix: ``/api`` matches ``/api``, ``/api/...``
``conductor.swarm.route.port``     required  the port the tasks listen on
``conductor.swarm.route.health``   /healthz  path HAProxy checks, expects status 200
``conductor.swarm.route.hold``     0s        while no server is up, hold requests this long
                                             (``15s``, ``500ms``; at most 50s) before a 503
``conductor.swarm.route.maxconn``  (none)    requests one task serves at once; more wait at
                                             the proxy (its ``timeout queue``, 5s)
``conductor.swarm.route-key``   name      the logical service (set on colour variants)
``conductor.swarm.variant``     plain     ``blue`` or ``green`` (absent: plain)
=================================  ========  ==========================================

Public API:

* ``parse_service_route(name, labels)`` -> route dict or None; raises
  ``RouteError`` naming the service and the label.
* ``routes_from_services(services)`` -> ``(routes, errors)``: Docker API
  service objects to routes keyed by route key, each with its variants.
* ``route_signature(routes)`` -> a value that changes only when HAProxy's
  configuration must change (keys, hosts, paths, health paths).
* ``variant_health(route, variant)`` -> the health path of that variant's backend;
  ``variant_maxconn(route, variant)`` its servers' maxconn (None: no limit).
* ``route_order(routes)`` -> keys, most specific first (host before no host,
  then longer path first).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

ROUTE_PREFIX = "conductor.swarm.route."
LABEL_HOST = ROUTE_PREFIX + "host"
LABEL_PATH = ROUTE_PREFIX + "path"
LABEL_PORT = ROUTE_PREFIX + "port"
LABEL_HEALTH = ROUTE_PREFIX + "health"
LABEL_HOLD = ROUTE_PREFIX + "hold"
LABEL_MAXCONN = ROUTE_PREFIX + "maxconn"
ROUTE_LABELS = (LABEL_HOST, LABEL_PATH, LABEL_PORT, LABEL_HEALTH, LABEL_HOLD, LABEL_MAXCONN)
# Below the proxy's client and server timeouts (60 s), with room for the request itself.
MAX_HOLD_MS = 50000
ROUTE_KEY_LABEL = "conductor.swarm.route-key"
VARIANT_LABEL = "conductor.swarm.variant"
VARIANTS = ("plain", "blue", "green")
DEFAULT_PATH = "/"
DEFAULT_HEALTH = "/healthz"

# Names end up in HAProxy backend names and map keys: keep them to what both accept.
_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_HOST_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?)*$")
# Unreserved and sub-delims of RFC 3986 plus '%', ':', '@': no space, quote or '#'.
_PATH_RE = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")
_HOLD_RE = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)?$")


class RouteError(ValueError):
    """A service's route labels are not usable; the message names service and label."""


def _check_path(service, label, value):
    if not value.startswith("/"):
        raise RouteError("service %s: label %s=%r must start with '/'" % (service, label, value))
    if not _PATH_RE.match(value) or "'" in value:
        raise RouteError("service %s: label %s=%r has characters a path prefix cannot hold "
                         "(spaces, quotes, '#', '?')" % (service, label, value))
    return value


def _hold_ms(service, value):
    text = str(value).strip()
    found = _HOLD_RE.match(text)
    if not found:
        raise RouteError("service %s: label %s=%r must be a duration such as 15s or 500ms" % (service, LABEL_HOLD, value))
    ms = float(found.group(1)) * (1 if found.group(2) == "ms" else 1000)
    if ms > MAX_HOLD_MS:
        raise RouteError("service %s: label %s=%r is over %ds, the longest hold below the proxy's timeouts"
                         % (service, LABEL_HOLD, value, MAX_HOLD_MS // 1000))
    return int(ms)


def _maxconn(service, value):
    if value is None:
        return None
    text = str(value).strip()
    if not text.isdigit() or not 1 <= int(text) <= 100000:
        raise RouteError("service %s: label %s=%r must be a number of requests (1-100000)" % (service, LABEL_MAXCONN, value))
    return int(text)


def parse_service_route(service, labels):
    """Labels of one service -> its route dict, or None when it is not routed."""
    labels = labels or {}
    route_labels = dict((k, v) for k, v in labels.items() if k.startswith(ROUTE_PREFIX))
    if not route_labels:
        return None
    for key in sorted(route_labels):
        if key not in ROUTE_LABELS:
            raise RouteError("service %s: unknown label %s (known: %s)" % (service, key, ", ".join(ROUTE_LABELS)))
    if LABEL_PORT not in route_labels:
        raise RouteError("service %s: label %s is required on a routed service" % (service, LABEL_PORT))
    port_text = str(route_labels[LABEL_PORT]).strip()
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise RouteError("service %s: label %s=%r must be a port number (1-65535)" % (service, LABEL_PORT, route_labels[LABEL_PORT]))
    hosts = ()
    if LABEL_HOST in route_labels:
        raw = [h.strip().lower() for h in str(route_labels[LABEL_HOST]).split(",")]
        if not [h for h in raw if h]:
            raise RouteError("service %s: label %s is empty" % (service, LABEL_HOST))
        for host in raw:
            if not _HOST_RE.match(host):
                raise RouteError("service %s: label %s has %r, not a host name" % (service, LABEL_HOST, host))
        hosts = tuple(sorted(set(raw)))
    path = _check_path(service, LABEL_PATH, str(route_labels.get(LABEL_PATH, DEFAULT_PATH)).strip())
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    health = _check_path(service, LABEL_HEALTH, str(route_labels.get(LABEL_HEALTH, DEFAULT_HEALTH)).strip())
    key = labels.get(ROUTE_KEY_LABEL) or service
    if not _KEY_RE.match(key):
        raise RouteError("service %s: route key %r (label %s or the service name) must match %s"
                         % (service, key, ROUTE_KEY_LABEL, _KEY_RE.pattern))
    variant = labels.get(VARIANT_LABEL) or "plain"
    if variant not in VARIANTS:
        raise RouteError("service %s: label %s=%r must be one of blue, green (absent: plain)" % (service, VARIANT_LABEL, variant))
    return {"key": key, "variant": variant, "service": service, "hosts": hosts, "path": path,
            "port": int(port_text), "health": health, "hold_ms": _hold_ms(service, route_labels.get(LABEL_HOLD, "0")),
            "maxconn": _maxconn(service, route_labels.get(LABEL_MAXCONN))}


def routes_from_services(services):
    """Docker API service objects -> ``(routes, errors)``.

    routes: ``{key: {"key", "hosts", "path", "hold_ms", "variants": {variant: {"service",
    "service_id", "port", "health", "maxconn"}}}}``. A service whose labels are wrong is
    left out and reported. Variants of one key must agree on host and path;
    the variant that disagrees with the first one (by service name) is left out.
    """
    routes = {}
    errors = []
    parsed = []
    for svc in services:
        spec = svc.get("Spec") or {}
        name = spec.get("Name") or svc.get("ID", "?")
        try:
            route = parse_service_route(name, spec.get("Labels"))
        except RouteError as exc:
            errors.append(str(exc))
            continue
        if route is not None:
            route["service_id"] = svc.get("ID")
            parsed.append(route)
    for route in sorted(parsed, key=lambda r: r["service"]):
        entry = routes.setdefault(route["key"], {"key": route["key"], "hosts": route["hosts"],
                                                 "path": route["path"], "hold_ms": 0, "variants": {}})
        if (entry["hosts"], entry["path"]) != (route["hosts"], route["path"]):
            errors.append("service %s: route %s already has host %s and path %s (from another variant); "
                          "this service says host %s and path %s, so it is not routed"
                          % (route["service"], route["key"], ",".join(entry["hosts"]) or "(any)", entry["path"],
                             ",".join(route["hosts"]) or "(any)", route["path"]))
            continue
        if route["variant"] in entry["variants"]:
            errors.append("service %s: route %s already has a %s variant (service %s), so it is not routed"
                          % (route["service"], route["key"], route["variant"],
                             entry["variants"][route["variant"]]["service"]))
            continue
        entry["variants"][route["variant"]] = {"service": route["service"], "service_id": route["service_id"],
                                               "port": route["port"], "health": route["health"],
                                               "maxconn": route["maxconn"]}
        # A hold is the route's: the longest any of its variants asks for.
        entry["hold_ms"] = max(entry["hold_ms"], route["hold_ms"])
    return routes, errors


def _backend_setting(route, variant, key, default):
    """A setting of a variant's backend; a variant with no service yet takes another variant's, so a
    colour appearing with the same settings needs no reload."""
    variants = route["variants"]
    for name in [variant] + [v for v in VARIANTS if v != variant]:
        if name in variants:
            return variants[name].get(key, default)
    return default


def variant_health(route, variant):
    """The health path of a variant's backend."""
    return _backend_setting(route, variant, "health", DEFAULT_HEALTH)


def route_signature(routes):
    """What the HAProxy configuration depends on; ports and tasks are runtime matters."""
    return tuple(sorted(
        (key, r["hosts"], r["path"], tuple(variant_health(r, v) for v in VARIANTS), r.get("hold_ms", 0),
         tuple(variant_maxconn(r, v) or 0 for v in VARIANTS))
        for key, r in routes.items()))


def variant_maxconn(route, variant):
    """The server maxconn of a variant's backend (None: no limit)."""
    return _backend_setting(route, variant, "maxconn", None)


def route_order(routes):
    """Keys in the order their rules are tried: host before no host, longer path first."""
    return sorted(routes, key=lambda k: (0 if routes[k]["hosts"] else 1, -len(routes[k]["path"]), k))
