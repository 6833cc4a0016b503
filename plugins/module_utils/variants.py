# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Variants of a service: the colours blue-green and canary roll out side by side.

A Compose service `web` of stack `shop` is the Swarm service `shop_web` when it
rolls out in place (the plain variant), and `shop_web-blue` / `shop_web-green`
when it rolls out by colour. Every colour carries the route key (`shop_web`,
which names its route on the edge proxy) and its colour as labels, so prune,
cleanup and the proxy know that the variants are one service.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.conductor.swarm.plugins.module_utils.edge.routes import ROUTE_KEY_LABEL, VARIANT_LABEL, VARIANTS
from ansible_collections.conductor.swarm.plugins.module_utils.labels import HASH_LABEL, NAMESPACE_LABEL

# The edge proxy's variant names (edge/routes.py), in its order: plain, then the colours.
PLAIN, BLUE, GREEN = VARIANTS
COLOURS = (BLUE, GREEN)


def variant_name(route, variant):
    return route if variant == PLAIN else "%s-%s" % (route, variant)


def as_variant(spec, route, variant):
    """The spec of one colour of the service: its own name, labelled with route and colour.

    A colour answers on its networks to its own name only (`web-blue`): the
    service's name and aliases belong to its router (variant_router.py), so
    callers inside the stack reach what the proxy routes to, not both colours.
    """
    spec = copy.deepcopy(spec)
    spec["Name"] = variant_name(route, variant)
    labels = spec.setdefault("Labels", {})
    labels[ROUTE_KEY_LABEL] = route
    labels[VARIANT_LABEL] = variant
    if variant != PLAIN:
        stack = labels.get(NAMESPACE_LABEL)
        name = route[len(stack) + 1:] if stack and route.startswith(stack + "_") else route
        for attachment in (spec.get("TaskTemplate") or {}).get("Networks") or []:
            if attachment.get("Aliases"):
                attachment["Aliases"] = [variant_name(name, variant)]
    return spec


def replicas_of(service):
    mode = ((service or {}).get("Spec") or {}).get("Mode") or {}
    if "Replicated" in mode:
        return (mode["Replicated"] or {}).get("Replicas", 1)
    return None  # global: as many as nodes


def variants_of(route, live):
    """{variant: live service} of one route, from the stack's live services by name."""
    found = {}
    for variant in (PLAIN,) + COLOURS:
        service = live.get(variant_name(route, variant))
        if service is not None:
            found[variant] = service
    return found


def has_colours(route, live):
    """Whether the service runs as colours now (a blue or green variant that serves)."""
    variants = variants_of(route, live)
    return any(serving(variants.get(c)) for c in COLOURS)


def serving(service):
    return service is not None and replicas_of(service) != 0


def live_variant(route, live, routing):
    """The variant that takes the route's traffic now, or None when none serves.

    routing: the route's entry in the edge proxy's state ({"green": percent}) or
    None. The proxy's state decides between colours; without one, the only
    variant that runs does.
    """
    variants = variants_of(route, live)
    running = [v for v in (PLAIN,) + COLOURS if serving(variants.get(v))]
    if routing is not None and "green" in routing:
        share = routing["green"]
        if share >= 50 and GREEN in variants:
            return GREEN
        if share < 50 and BLUE in variants:
            return BLUE
    if PLAIN in running:
        return PLAIN
    return running[0] if running else None


def target_variant(live):
    """The colour the new version goes to, given the live variant (None: nothing live yet, so blue goes first)."""
    if live not in (None,) + VARIANTS:
        raise ValueError("unknown variant %r" % live)
    return GREEN if live == BLUE else BLUE


def plan_colour(route, spec, live, routing, service_hash):
    """Where the new version of a colour-rolled service goes, decided from the live state.

    Returns {"route", "live", "target", "unchanged", "keep"}: target is None when
    the live colour already runs exactly this spec (nothing to deploy, nothing
    to switch); keep lists the live variants a prune must leave alone.
    """
    current = live_variant(route, live, routing)
    variants = variants_of(route, live)
    keep = sorted(variant_name(route, v) for v in variants)
    if current is not None and current != PLAIN:
        running = live[variant_name(route, current)]
        labels = (running.get("Spec") or {}).get("Labels") or {}
        from_labels = labels.get(HASH_LABEL)
        if from_labels == service_hash(as_variant(spec, route, current)):
            return {"route": route, "live": current, "target": None, "unchanged": True, "keep": keep, "others": []}
    target = target_variant(current)
    # Variants that take no traffic before or after this release, yet run: scaled down once it succeeded.
    others = sorted(variant_name(route, v) for v, service in variants.items()
                    if v not in (current, target) and serving(service))
    return {"route": route, "live": current, "target": target, "unchanged": False, "keep": keep, "others": others}
