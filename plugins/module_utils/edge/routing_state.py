# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Placeholder until the edge agent's state schema lands (merged from the edge branch)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

STATE_LABEL = "conductor.swarm.edge.state"


def read_routing_state(text):
    if not text:
        return {"generation": 0, "routes": {}}
    state = json.loads(text)
    if not isinstance(state, dict) or not isinstance(state.get("routes", {}), dict):
        raise ValueError("not a routing state: %r" % text[:80])
    return {"generation": state.get("generation", 0), "routes": state.get("routes", {})}
