# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a deploy changes, as pure logic: no Docker, no Ansible.

Every service we deploy carries two labels:
  conductor.swarm.spec-hash     hash of the spec we sent (our labels left out)
  conductor.swarm.last-applied  that spec, compressed, so a later run can tell
                                a hand edit (drift) from a change in the files
A service whose hash label equals the new spec's hash is left alone: Swarm is
never asked to update it, so an unchanged redeploy triggers no rollout.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import json
import zlib

from ansible_collections.conductor.swarm.plugins.module_utils import hashing
from ansible_collections.conductor.swarm.plugins.module_utils.edge.routing_state import STATE_LABEL
from ansible_collections.conductor.swarm.plugins.module_utils.labels import HASH_LABEL, LAST_APPLIED_LABEL

# The edge proxy's routing state lives on its service, written by the switches, not by deploys.
OWN_LABELS = (HASH_LABEL, LAST_APPLIED_LABEL, STATE_LABEL)

# Values Swarm writes into a stored spec when the request left them out.
SWARM_FILLED_DEFAULTS = {
    ("TaskTemplate", "Runtime"): "container",
    ("TaskTemplate", "ContainerSpec", "Isolation"): "default",
    ("EndpointSpec", "Mode"): "vip",
    ("TaskTemplate", "ForceUpdate"): 0,
}


def service_hash(spec):
    """Stable hash of a spec, ignoring our own bookkeeping labels: what HASH_LABEL holds.

    The collection's one hash (hashing.spec_hash) of the spec without OWN_LABELS.
    """
    return hashing.spec_hash(without_own_labels(spec))


def without_own_labels(spec):
    spec = copy.deepcopy(spec)
    labels = spec.get("Labels")
    if labels:
        spec["Labels"] = dict((k, v) for k, v in labels.items() if k not in OWN_LABELS)
    return spec


def with_own_labels(spec, identity=None):
    """The spec to send, labelled with the hash and a compressed copy of `identity`.

    identity: the spec as the files describe it (names, no IDs); defaults to
    `spec`. Swarm stores IDs where the files name things, so labels describe
    the files' view, and live specs are normalised back to it (normalize_live).
    """
    identity = without_own_labels(identity if identity is not None else spec)
    labeled = without_own_labels(spec)
    labels = labeled.setdefault("Labels", {})
    labels[HASH_LABEL] = service_hash(identity)
    labels[LAST_APPLIED_LABEL] = encode_spec(identity)
    return labeled


def normalize_live(spec, network_names=None):
    """A stored spec in the files' terms: network IDs back to names, no config or secret IDs."""
    spec = without_own_labels(spec)
    template = spec.get("TaskTemplate") or {}
    for net in template.get("Networks") or []:
        net["Target"] = (network_names or {}).get(net.get("Target"), net.get("Target"))
    container = template.get("ContainerSpec") or {}
    for ref in container.get("Configs") or []:
        ref.pop("ConfigID", None)
    for ref in container.get("Secrets") or []:
        ref.pop("SecretID", None)
    return spec


def last_applied(service):
    """The files' spec a service was last deployed with, or None if we did not deploy it."""
    labels = ((service or {}).get("Spec") or {}).get("Labels") or {}
    return decode_spec(labels.get(LAST_APPLIED_LABEL, ""))


def encode_spec(spec):
    raw = json.dumps(spec, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


def decode_spec(text):
    try:
        return json.loads(zlib.decompress(base64.b64decode(text)).decode("utf-8"))
    except (ValueError, zlib.error, TypeError):
        return None


def _is_empty(value):
    return value in (None, "", 0, False) or value == {} or value == []


def _unexpected(value, path):
    """Paths inside a value only the live spec has that are neither empty nor Swarm's default."""
    if isinstance(value, dict) and value:
        found = []
        for key in sorted(value):
            found.extend(_unexpected(value[key], path + (key,)))
        return found
    if _is_empty(value) or SWARM_FILLED_DEFAULTS.get(path, object()) == value:
        return []
    return [".".join(path)]


def drift(applied, live, path=()):
    """Paths where the live spec no longer says what we applied.

    Keys Swarm adds are tolerated when empty or a known default; anything else
    present only in the live spec, or any value that differs, is drift.
    """
    found = []
    if isinstance(applied, dict) and isinstance(live, dict):
        for key in sorted(set(applied) | set(live)):
            sub = path + (key,)
            if key in applied and key in live:
                found.extend(drift(applied[key], live[key], sub))
            elif key in live:
                found.extend(_unexpected(live[key], sub))
            elif not _is_empty(applied[key]):
                found.append(".".join(sub))
    elif isinstance(applied, list) and isinstance(live, list) and len(applied) == len(live):
        for index, (a, b) in enumerate(zip(applied, live)):
            found.extend(drift(a, b, path + (str(index),)))
    elif applied != live:
        found.append(".".join(path) or "(spec)")
    return found


def live_drift(service, network_names=None):
    """Drift of a live service (GET /services answer) from its last-applied label."""
    applied = last_applied(service)
    if applied is None:
        return None  # not deployed by us: nothing to compare with
    return drift(applied, normalize_live(service.get("Spec") or {}, network_names))


def changes(before, after, path=()):
    """Leaf differences between two specs, for diff output: (path, before, after)."""
    out = []
    if isinstance(before, dict) and isinstance(after, dict):
        for key in sorted(set(before) | set(after)):
            out.extend(changes(before.get(key), after.get(key), path + (key,)))
    elif before != after:
        out.append((".".join(path), before, after))
    return out


def plan_services(desired, live, prune=False, network_names=None):
    """Which services to create, update, leave alone or remove.

    desired: {full service name: spec without our labels}
    live:    {full service name: service as GET /services returns it}
    network_names: {network ID: name}, to read live specs in the files' terms
    """
    plan = {"create": [], "update": [], "unchanged": [], "remove": [], "drift": {}}
    for name in sorted(desired):
        service = live.get(name)
        if service is None:
            plan["create"].append(name)
            continue
        labels = (service.get("Spec") or {}).get("Labels") or {}
        drifted = live_drift(service, network_names)
        if drifted:
            plan["drift"][name] = drifted
        if labels.get(HASH_LABEL) == service_hash(desired[name]) and not drifted:
            plan["unchanged"].append(name)
        else:
            plan["update"].append(name)
    if prune:
        plan["remove"] = sorted(set(live) - set(desired))
    return plan
