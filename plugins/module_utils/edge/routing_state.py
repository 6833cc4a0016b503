# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The desired routing state of the edge proxy, stored on the swarm.

Pure logic: standard library only. The state is JSON in the label
``conductor.swarm.edge.state`` of the edge proxy's own service, so every
proxy replica, and a proxy task that restarts, serves the same state::

    {"generation": 7, "routes": {"demo_web": {"green": 10, "preview": "green"}}}

* ``generation``: int >= 0, raised by whoever writes a new state; the proxy
  reports the generation it has applied.
* ``routes.<key>.green``: int 0..100, the percentage of requests for that route
  that go to the green variant; the rest go to blue (or to the plain variant
  when there is no blue). Absent: 0.
* ``routes.<key>.preview``: ``blue``, ``green`` or ``plain``: requests with the
  header ``X-Conductor-Preview: 1`` go there. Absent: like any other request.

Unknown keys are rejected, so a typo never reads as "0 % to green".

Public API: ``STATE_LABEL``, ``StateError``, ``validate_state(obj)``,
``parse_state(text)``, ``serialise_state(state)``, ``empty_state()``,
``with_route(state, route, green, preview)`` (one route changed, the generation moved).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.conductor.swarm.plugins.module_utils.edge.routes import VARIANTS

STATE_LABEL = "conductor.swarm.edge.state"
PREVIEW_HEADER = "X-Conductor-Preview"
STATE_VARIANTS = VARIANTS
_TOP_KEYS = ("generation", "routes")
_ROUTE_KEYS = ("green", "preview")


class StateError(ValueError):
    """The routing state is not valid; the message lists every problem."""


def empty_state():
    return {"generation": 0, "routes": {}}


def _is_int(value):
    # JSON true/false are ints to Python; a percentage of true is a mistake.
    return isinstance(value, int) and not isinstance(value, bool)


def validate_state(obj):
    """A decoded state -> the normalised state (each route has green and preview); raises StateError."""
    problems = []
    if not isinstance(obj, dict):
        raise StateError("edge state must be a JSON object, got %s" % type(obj).__name__)
    for key in sorted(obj):
        if key not in _TOP_KEYS:
            problems.append("unknown key %r (known: %s)" % (key, ", ".join(_TOP_KEYS)))
    generation = obj.get("generation", 0)
    if not _is_int(generation) or generation < 0:
        problems.append("generation must be an integer >= 0, got %r" % (generation,))
    routes = obj.get("routes", {})
    out_routes = {}
    if not isinstance(routes, dict):
        problems.append("routes must be an object of route key -> settings, got %s" % type(routes).__name__)
        routes = {}
    for name in sorted(routes):
        entry = routes[name]
        if not isinstance(entry, dict):
            problems.append("routes.%s must be an object, got %s" % (name, type(entry).__name__))
            continue
        for key in sorted(entry):
            if key not in _ROUTE_KEYS:
                problems.append("routes.%s: unknown key %r (known: %s)" % (name, key, ", ".join(_ROUTE_KEYS)))
        green = entry.get("green", 0)
        if not _is_int(green) or not 0 <= green <= 100:
            problems.append("routes.%s.green must be an integer percentage 0..100, got %r" % (name, green))
        preview = entry.get("preview")
        if preview is not None and preview not in STATE_VARIANTS:
            problems.append("routes.%s.preview must be one of %s, got %r" % (name, ", ".join(STATE_VARIANTS), preview))
        out_routes[name] = {"green": green, "preview": preview}
    if problems:
        raise StateError("edge state: " + "; ".join(problems))
    return {"generation": generation, "routes": out_routes}


def parse_state(text):
    """Label text (None or empty: no state yet) -> normalised state; raises StateError."""
    if text is None or not str(text).strip():
        return empty_state()
    try:
        obj = json.loads(text)
    except ValueError as exc:
        raise StateError("edge state: not JSON (%s)" % exc)
    return validate_state(obj)


def serialise_state(state):
    """State -> compact, stable JSON for the label (absent preview left out)."""
    state = validate_state(state)
    routes = {}
    for name, entry in state["routes"].items():
        out = {"green": entry["green"]}
        if entry["preview"] is not None:
            out["preview"] = entry["preview"]
        routes[name] = out
    return json.dumps({"generation": state["generation"], "routes": routes}, sort_keys=True, separators=(",", ":"))


def with_route(state, route, green, preview):
    """A new state with one route set; the generation moves only when something changed."""
    routes = dict(state["routes"])
    entry = {"green": green, "preview": preview}
    if routes.get(route) == entry:
        return state
    routes[route] = entry
    return validate_state({"generation": state["generation"] + 1, "routes": routes})
