# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the edge proxy should do now: servers from Swarm tasks, and the split.

Pure logic: standard library only.

* ``task_servers(routes, tasks, network_id, network_name)`` -> ``{backend:
  {server_name: {"addr", "port", "task_id", "service", "want", "maxconn"}}}``, want being
  ``ready`` (task running, desired running) or ``drain`` (task still running
  but Swarm wants it shut down: drained before Swarm's SIGTERM reaches it).
  Tasks that no longer run are absent: their servers are to be deleted.
* ``decide_split(route, state_entry, up)`` -> the split HAProxy applies for a
  route, with the fallbacks taken (``up`` = variants with a server up).
* ``split_map_value(key, split)`` -> the value of the route's entry in the
  split map file HAProxy reads (see haproxy_config).

The split rule:

* With a state entry: ``green`` % to green, the rest to the *base* variant
  (blue when the route has a blue service, else plain). A side with no server
  up while the other has one gets nothing (fallback, reported in ``notes``).
* Without a state entry: 100 % to the first of plain, blue, green that has a
  server up (or that exists, when none is up).
* ``preview``: to that variant when it has a server up, else like any request.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.conductor.swarm.plugins.module_utils.edge.routes import VARIANTS

RUNNING = "running"
# Desired states that mean Swarm is about to stop the task (moby's TaskState names).
_LEAVING = ("shutdown", "remove", "rejected", "complete", "failed", "orphaned")


def backend_name(key, variant):
    return "be_%s_%s" % (key, variant)


def server_name(task_id):
    return "t_%s" % task_id


def task_address(task, network_id, network_name):
    """The task's IP on the edge network (matched by network ID, else by name), or None."""
    for attachment in task.get("NetworksAttachments") or []:
        net = attachment.get("Network") or {}
        if (network_id and net.get("ID") == network_id) or \
                (network_name and (net.get("Spec") or {}).get("Name") == network_name):
            for address in attachment.get("Addresses") or []:
                return address.split("/", 1)[0]
    return None


def task_servers(routes, tasks, network_id, network_name):
    """Running tasks of routed services -> wanted servers per backend."""
    by_service = {}
    for key, route in routes.items():
        for variant, info in route["variants"].items():
            by_service[info["service_id"]] = (key, variant, info)
    wanted = {}
    for key, route in routes.items():
        for variant in VARIANTS:
            wanted[backend_name(key, variant)] = {}
    for task in tasks:
        owner = by_service.get(task.get("ServiceID"))
        if owner is None or (task.get("Status") or {}).get("State") != RUNNING:
            continue
        key, variant, info = owner
        addr = task_address(task, network_id, network_name)
        if addr is None:
            continue
        want = "drain" if task.get("DesiredState") in _LEAVING else "ready"
        wanted[backend_name(key, variant)][server_name(task["ID"])] = {
            "addr": addr, "port": info["port"], "task_id": task["ID"], "service": info["service"], "want": want,
            "maxconn": info.get("maxconn")}
    return wanted


def _first(candidates, pool):
    for variant in candidates:
        if variant in pool:
            return variant
    return None


def decide_split(route, state_entry, up):
    """-> {"main", "alt", "green", "preview", "notes", "fallback"}: ``green`` % of requests
    to ``alt``, the rest to ``main``; ``preview`` None means preview requests are not
    special; ``fallback`` True when the state entry could not be followed as written."""
    split = _decide(route, state_entry, up)
    split["fallback"] = state_entry is not None and bool(split["notes"])
    return split


def _decide(route, state_entry, up):
    existing = [v for v in VARIANTS if v in route["variants"]]
    notes = []
    if state_entry is None:
        main = _first(VARIANTS, up) or _first(VARIANTS, existing) or "plain"
        if len([v for v in VARIANTS if v in up]) > 1:
            notes.append("no routing state for %s: all traffic to %s (first of plain, blue, green with a server up)"
                         % (route["key"], main))
        return {"main": main, "alt": main, "green": 0, "preview": None, "notes": notes}
    base = "blue" if "blue" in route["variants"] else "plain"
    green = state_entry.get("green", 0)
    if green > 0 and "green" not in up and base in up:
        notes.append("%s: green has no server up, sending %d %% to %s instead" % (route["key"], green, base))
        green = 0
    elif green < 100 and base not in up and "green" in up:
        notes.append("%s: %s has no server up, sending %d %% to green instead" % (route["key"], base, 100 - green))
        green = 100
    elif base not in up and "green" not in up:
        other = _first(VARIANTS, up)
        if other is not None:
            notes.append("%s: neither %s nor green has a server up, sending all traffic to %s"
                         % (route["key"], base, other))
            return {"main": other, "alt": other, "green": 0, "preview": None, "notes": notes}
        notes.append("%s: no server up in any variant" % route["key"])
    if green == 0:
        main, alt = base, base
    elif green == 100:
        main, alt = "green", "green"
    else:
        main, alt = base, "green"
    preview = state_entry.get("preview")
    if preview is not None and preview not in up:
        notes.append("%s: preview variant %s has no server up, preview requests are routed like others" % (route["key"], preview))
        preview = None
    return {"main": main, "alt": alt, "green": green, "preview": preview, "notes": notes}


def split_map_value(key, split):
    """'<green %>:<main backend>:<alt backend>:<preview backend or empty>'."""
    preview = backend_name(key, split["preview"]) if split["preview"] else ""
    return "%d:%s:%s:%s" % (split["green"], backend_name(key, split["main"]), backend_name(key, split["alt"]), preview)
