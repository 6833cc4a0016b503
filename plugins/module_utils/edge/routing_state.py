# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Placeholder until the edge agent's state schema lands (merged from the edge branch)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.conductor.swarm.plugins.module_utils.stack_diff import EDGE_STATE_LABEL as STATE_LABEL  # noqa: F401


def read_routing_state(text):
    if not text:
        return {"generation": 0, "routes": {}}
    state = json.loads(text)
    if not isinstance(state, dict) or not isinstance(state.get("routes", {}), dict):
        raise ValueError("not a routing state: %r" % text[:80])
    return {"generation": state.get("generation", 0), "routes": state.get("routes", {})}


def with_route(state, route, green, preview):
    """A new state with one route set; the generation moves only when something changed."""
    routes = dict(state["routes"])
    entry = {"green": green}
    if preview:
        entry["preview"] = preview
    if routes.get(route) == entry:
        return state
    routes[route] = entry
    return {"generation": state["generation"] + 1, "routes": routes}


def write_routing_state(state):
    return json.dumps(state, sort_keys=True, separators=(",", ":"))
