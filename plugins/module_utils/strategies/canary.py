# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""canary: the new version beside the stable one, taking a share of traffic in gated steps.

Steps are [{"weight": percent, "pause": seconds}, ...] with weights strictly
increasing up to 100; a last step below 100 is followed by the promotion at
100. During each step's pause the gate (gates.py) is looked at on every poll:
a failure aborts at once (weight back to 0, canary scaled down, the task fails
with the figures); the pause over with the gate passing moves to the next step.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.conductor.swarm.plugins.module_utils.rollout.release import green_share, release_result
from ansible_collections.conductor.swarm.plugins.module_utils.strategies import gates
from ansible_collections.conductor.swarm.plugins.module_utils.strategies.base import Strategy
from ansible_collections.conductor.swarm.plugins.module_utils.strategies.options import StrategyError, at_least

DEFAULT_STEPS = [{"weight": 10, "pause": 30}, {"weight": 50, "pause": 30}, {"weight": 100, "pause": 0}]
STEP_KEYS = ("weight", "pause")

# What the runner does next, from next_action().
SET_WEIGHT = "set_weight"
WAIT = "wait"
PROMOTE = "promote"
ABORT = "abort"


def check_steps(where, steps):
    if not steps:
        raise StrategyError("%s: at least one step is needed" % where)
    out = []
    last = 0
    for i, step in enumerate(steps):
        here = "%s[%d]" % (where, i)
        if not isinstance(step, dict):
            raise StrategyError("%s: must be a mapping with weight and pause, not %r" % (here, step))
        unknown = sorted(set(step) - set(STEP_KEYS))
        if unknown:
            raise StrategyError("%s: unknown key%s %s (known: weight, pause)" % (
                here, "s" if len(unknown) > 1 else "", ", ".join(unknown)))
        weight, pause = step.get("weight"), step.get("pause", 0)
        if not isinstance(weight, int) or isinstance(weight, bool) or not 1 <= weight <= 100:
            raise StrategyError("%s.weight: must be a whole percentage from 1 to 100, not %r" % (here, weight))
        if weight <= last:
            raise StrategyError("%s.weight: steps must increase, but %d follows %d" % (here, weight, last))
        if not isinstance(pause, (int, float)) or isinstance(pause, bool) or pause < 0:
            raise StrategyError("%s.pause: must be a number of seconds, 0 or more, not %r" % (here, pause))
        out.append({"weight": weight, "pause": pause})
        last = weight
    if last < 100:
        out.append({"weight": 100, "pause": 0})
    return out


def next_action(steps, step_index, step_started, now, gate_result):
    """(action, step index) for the step running since step_started, given the gate's latest look.

    step_index -1 means no step has started yet.
    """
    if step_index < 0:
        return SET_WEIGHT, 0
    if gate_result and gate_result["verdict"] == gates.FAIL:
        return ABORT, step_index
    step = steps[step_index]
    if now - step_started < step["pause"] or (gate_result and gate_result["verdict"] == gates.WAIT):
        return WAIT, step_index
    if step_index + 1 < len(steps):
        return SET_WEIGHT, step_index + 1
    return PROMOTE, step_index


class Canary(Strategy):
    name = "canary"
    needs_proxy = True
    schema = {
        "steps": ("list", DEFAULT_STEPS, None),
        "gate": ("dict", {}, None),
        "drain_seconds": ("int", 2, at_least(0)),
    }

    def validate(self, options):
        checked = Strategy.validate(self, options)
        checked["steps"] = check_steps("strategy_options.canary.steps", checked["steps"])
        checked["gate"] = gates.check_gate("strategy_options.canary.gate", checked["gate"])
        return checked

    def describe(self, options):
        lines = ["start the new version beside the stable one (the other colour), with no traffic, until healthy"]
        for step in options["steps"]:
            lines.append("send %d%% of requests to it%s, gated on %s" % (
                step["weight"], ", for %ss" % step["pause"] if step["pause"] else "", describe_gate(options["gate"])))
        lines.append("all steps passed: promote (the new version takes all traffic, the old one is scaled down); "
                     "a gate failed: weight back to 0, canary scaled down, the deploy fails with the figures")
        return lines

    def release(self, ctx, plan, options):
        return release_canary(ctx, plan, options)


def describe_gate(gate):
    parts = ["error rate <= %.1f%%" % (100 * gate["max_error_rate"]),
             "connection errors <= %d" % gate["max_conn_errors"]]
    if gate.get("max_error_rate_increase") is not None:
        parts.append("error rate at most %.1f points over stable" % (100 * gate["max_error_rate_increase"]))
    if gate.get("max_p99_ms") is not None:
        parts.append("p99 <= %.0f ms" % gate["max_p99_ms"])
    if gate.get("max_p99_ratio") is not None:
        parts.append("p99 <= %.2fx stable" % gate["max_p99_ratio"])
    return ", ".join(parts)


def release_canary(ctx, plan, options):
    """Steps up the new colour's share, gated on every poll; aborts or promotes."""
    route, target, live = plan["route"], plan["target"], plan["live"]
    steps, gate = options["steps"], options["gate"]
    if live is None:
        ctx.proxy.route(route, green_share(target, 100))
        return release_result(True, target, "first release: nothing to compare a canary with; %s serves" % target)
    index, started, seen = -1, None, None
    while True:
        if index >= 0:
            figures = ctx.proxy.metrics(route, started)
        # After the figures: reading them takes time, and the step's age is what they cover.
        now = ctx.clock.time()
        if index >= 0:
            final = now - started >= steps[index]["pause"]
            seen = gates.evaluate(figures.get(target) or {}, figures.get(live) or {}, gate, final=final)
        action, step = next_action(steps, index, started, now, seen)
        if action == ABORT:
            back = ctx.proxy.route(route, green_share(target, 0))
            ctx.say("  %s: canary at %d%%: %s; weight back to 0 in %d ms" % (
                route, steps[index]["weight"], seen["reason"], back["applied_ms"]))
            ctx.cluster.scale(plan["service"], 0)
            return release_result(False, live, "canary aborted at %d%% after %.1fs: %s" % (
                steps[index]["weight"], now - started, seen["reason"]), figures=seen["figures"],
                abort_s=round(now - started, 1))
        if action == SET_WEIGHT:
            applied = ctx.proxy.route(route, green_share(target, steps[step]["weight"]))
            ctx.say("  %s: canary %s takes %d%% of requests (applied in %d ms)%s" % (
                route, target, steps[step]["weight"], applied["applied_ms"],
                "; gate: %s" % seen["reason"] if seen else ""))
            index, started, seen = step, ctx.clock.time(), None
            continue
        if action == PROMOTE:
            ctx.say("  %s: canary %s promoted: %s" % (route, target, seen["reason"] if seen else "all steps passed"))
            ctx.cluster.scale(plan["live_service"], 0)
            return release_result(True, target, "promoted after %d steps; %s scaled down" % (len(steps), live),
                                  figures=(seen or {}).get("figures"))
        ctx.clock.sleep(ctx.poll_interval)
