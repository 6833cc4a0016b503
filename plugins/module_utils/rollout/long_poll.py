# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wait on the manager until a stack's state changes, so tracking needs one round trip per change.

stack_info reads the swarm every ``interval`` seconds, on the manager itself,
and answers as soon as what it read differs from the fingerprint the tracker
last saw, or once ``max_wait`` has passed (the tracker asks for the moment its
verdict could change by time alone, such as the end of a stability window).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json

from ansible_collections.conductor.swarm.plugins.module_utils.rollout_state import annotate_health, compact_task


def fingerprint(services, tasks, nodes):
    """What the tracker decides from, reduced to a short string: any change in it is news."""
    def pick(obj, *path):
        for key in path:
            obj = (obj or {}).get(key)
        return obj
    facts = {
        "services": sorted((s.get("ID"), pick(s, "Version", "Index"), pick(s, "UpdateStatus", "State"),
                            pick(s, "UpdateStatus", "Message")) for s in services),
        "tasks": sorted((t.get("ID"), pick(t, "Version", "Index"), pick(t, "Status", "State"), t.get("DesiredState"),
                         t.get("NodeID")) for t in tasks),
        "nodes": sorted((n.get("ID"), pick(n, "Status", "State"), pick(n, "Spec", "Availability"),
                         pick(n, "ManagerStatus", "Reachability")) for n in nodes),
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:16]


def wait_for_change(read, since, max_wait, interval, clock):
    """Read until the state's fingerprint differs from ``since`` or ``max_wait`` seconds passed.

    read() -> (state, fingerprint); clock: time() and sleep(). Returns the last (state, fingerprint).
    """
    start = clock.time()
    while True:
        state, mark = read()
        left = max_wait - (clock.time() - start)
        if since is None or mark != since or left <= 0:
            return state, mark
        clock.sleep(min(interval, left))


def read_stack(client, stack, wanted=None):
    """One look at a stack through a SwarmClient: ((services, compact tasks, nodes, manager time), fingerprint)."""
    services = client.stack_services(stack)
    if wanted is not None:
        services = [s for s in services if s["Spec"]["Name"] in wanted]
    ids = [s["ID"] for s in services]
    tasks = [compact_task(t) for t in annotate_health(client.api.tasks(filters={"service": ids}))] if ids else []
    nodes = client.api.nodes()
    return (services, tasks, nodes, client.now()), fingerprint(services, tasks, nodes)


def snapshot(client, stack, wanted=None):
    """A look as stack_info(raw=true) answers it: what the tracker's first poll needs."""
    (services, tasks, nodes, now), mark = read_stack(client, stack, wanted)
    return {"now": now, "logs": {}, "fingerprint": mark, "raw": {"services": services, "tasks": tasks, "nodes": nodes}}
