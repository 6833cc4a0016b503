# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""blue-green: the new version as the other colour beside the live one, then all traffic at once.

The idle colour gets the new spec and must become healthy and pass a smoke
check through the proxy's preview route; then the proxy switches every route
of the service at once. A failure before the switch leaves traffic untouched.
For post_switch_seconds the gate keeps watching the new colour; a failure
switches back. The old colour stays up keep_old_seconds more, then is scaled
down; with scale_down_old false it stays until the next deploy, so deploying the
previous version again is an instant switch back (nothing to start).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.conductor.swarm.plugins.module_utils.rollout.release import green_share, release_result
from ansible_collections.conductor.swarm.plugins.module_utils.strategies import gates
from ansible_collections.conductor.swarm.plugins.module_utils.strategies.base import Strategy
from ansible_collections.conductor.swarm.plugins.module_utils.variants import COLOURS
from ansible_collections.conductor.swarm.plugins.module_utils.strategies.options import (
    StrategyError,
    at_least,
    between,
    check_options,
)


SMOKE_SCHEMA = {
    "path": ("str", "/", None),
    "status": ("int", 200, between(100, 599)),
    "body": ("str", None, None),
    "timeout": ("float", 5, at_least(0.1)),
    "attempts": ("int", 3, at_least(1)),
}


def smoke_passed(smoke, status, body):
    """(passed, reason) for one preview answer."""
    if status != smoke["status"]:
        return False, "answered %s, expected %d" % (status, smoke["status"])
    if smoke.get("body") is not None and smoke["body"] not in (body or ""):
        return False, "the body does not contain %r" % smoke["body"]
    return True, "answered %d" % status


class BlueGreen(Strategy):
    name = "blue-green"
    needs_proxy = True
    schema = {
        "smoke": ("dict", {}, None),
        "post_switch_seconds": ("float", 10, at_least(0)),
        "keep_old_seconds": ("float", 0, at_least(0)),
        # False: the old colour stays up until the next deploy, so deploying the previous version
        # again is an instant switch back.
        "scale_down_old": ("bool", True, None),
        "gate": ("dict", {}, None),
        "drain_seconds": ("int", 2, at_least(0)),
    }

    def validate(self, options):
        checked = Strategy.validate(self, options)
        checked["smoke"] = check_options("strategy_options.blue-green.smoke", SMOKE_SCHEMA, checked["smoke"])
        if not checked["smoke"]["path"].startswith("/"):
            raise StrategyError("strategy_options.blue-green.smoke.path: must start with /, not %r"
                                % checked["smoke"]["path"])
        checked["gate"] = gates.check_gate("strategy_options.blue-green.gate", checked["gate"])
        return checked

    def describe(self, options):
        smoke = options["smoke"]
        return [
            "deploy the new version as the idle colour beside the live one, with no traffic, until healthy",
            "smoke check through the preview route: GET %s answers %d%s" % (
                smoke["path"], smoke["status"], " containing %r" % smoke["body"] if smoke.get("body") else ""),
            "switch all traffic to the new colour at once",
            "watch it for %ss; a failing gate switches back at once" % options["post_switch_seconds"],
            ("keep the old colour up for %ss more, then scale it down" % options["keep_old_seconds"]
             if options["scale_down_old"] else
             "leave the old colour up until the next deploy (deploying the previous version switches back at once)"),
        ]

    def release(self, ctx, plan, options):
        return release_colour(ctx, plan, options)


def smoke_check(ctx, route, target, smoke):
    """(passed, reason) after up to `attempts` preview requests to the new colour."""
    reason = "no attempt"
    for attempt in range(smoke["attempts"]):
        if attempt:
            ctx.clock.sleep(ctx.poll_interval)
        status, body = ctx.proxy.probe(route, smoke["path"], target, smoke["timeout"])
        passed, reason = smoke_passed(smoke, status, body)
        if passed:
            return True, "GET %s through the preview route %s" % (smoke["path"], reason)
    return False, "GET %s through the preview route %s (%d attempts)" % (smoke["path"], reason, smoke["attempts"])


def watch(ctx, route, target, live, since, seconds, gate):
    """The gate's last look at the new colour over the post-switch window; stops at the first failure."""
    result = {"verdict": gates.PASS, "reason": "no window", "figures": {}}
    end = ctx.clock.time() + seconds
    while True:
        figures = ctx.proxy.metrics(route, since)
        final = ctx.clock.time() >= end
        result = gates.evaluate(figures.get(target) or {}, figures.get(live) or {}, gate, final=final)
        if result["verdict"] == gates.FAIL or final:
            return result
        ctx.clock.sleep(ctx.poll_interval)


def release_colour(ctx, plan, options):
    """Smoke check, switch, watch, keep the old colour, scale it down; the strategy's whole release."""
    route, target, live = plan["route"], plan["target"], plan["live"]
    live_share = green_share(live, 100) if live in COLOURS else green_share(target, 0)
    ctx.proxy.route(route, live_share, preview=target)
    passed, reason = smoke_check(ctx, route, target, options["smoke"])
    ctx.say("  %s: smoke check of %s: %s" % (route, target, reason))
    if not passed:
        ctx.proxy.route(route, live_share)
        ctx.cluster.scale(plan["service"], 0)
        return release_result(False, live, "smoke check of %s failed, traffic never moved: %s" % (target, reason))
    switched_at = ctx.clock.time()
    applied = ctx.proxy.route(route, green_share(target, 100))
    ctx.say("  %s: switched all traffic from %s to %s (applied by the proxy in %d ms)" % (
        route, live or "nothing", target, applied["applied_ms"]))
    if live is None:
        return release_result(True, target, "first release: %s serves" % target, switch_ms=applied["applied_ms"])
    seen = watch(ctx, route, target, live, switched_at, options["post_switch_seconds"], options["gate"])
    if seen["verdict"] == gates.FAIL:
        back = ctx.proxy.route(route, live_share)
        ctx.say("  %s: %s after the switch: switched back to %s in %d ms" % (
            route, seen["reason"], live, back["applied_ms"]))
        ctx.cluster.scale(plan["service"], 0)
        return release_result(False, live, "switched back to %s: %s" % (live, seen["reason"]),
                              figures=seen["figures"], switch_ms=applied["applied_ms"])
    if not options["scale_down_old"]:
        return release_result(True, target, "%s serves; %s stays up until the next deploy" % (target, live),
                              figures=seen["figures"], switch_ms=applied["applied_ms"])
    if options["keep_old_seconds"]:
        ctx.say("  %s: %s kept up %ss more, so a switch back is instant" % (route, live, options["keep_old_seconds"]))
        ctx.clock.sleep(options["keep_old_seconds"])
    ctx.cluster.scale(plan["live_service"], 0)
    return release_result(True, target, "%s serves; %s scaled down" % (target, live), figures=seen["figures"],
                          switch_ms=applied["applied_ms"])
