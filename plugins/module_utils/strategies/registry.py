# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which strategy a service rolls out with, and with which options, decided before any change.

The strategies, one module each behind base.py's interface: rolling.py (Swarm's
update, safe defaults), recreate.py (stop all, then start), blue_green.py (the
other colour, smoke check, switch at once), canary.py (gated steps); gates.py
judges the proxy's figures; options.py checks options.

The deploy's `strategy` applies to every service; a service's own
`conductor.swarm.strategy` label (Compose deploy.labels) overrides it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.conductor.swarm.plugins.module_utils.strategies.blue_green import BlueGreen
from ansible_collections.conductor.swarm.plugins.module_utils.strategies.canary import Canary
from ansible_collections.conductor.swarm.plugins.module_utils.strategies.options import StrategyError
from ansible_collections.conductor.swarm.plugins.module_utils.strategies.recreate import Recreate
from ansible_collections.conductor.swarm.plugins.module_utils.strategies.rolling import Rolling
from ansible_collections.conductor.swarm.plugins.module_utils.edge.routes import ROUTE_PREFIX
from ansible_collections.conductor.swarm.plugins.module_utils.labels import STRATEGY_LABEL

STRATEGIES = dict((s.name, s) for s in (Rolling(), Recreate(), BlueGreen(), Canary()))
# Every strategy can run; blue-green and canary need the edge proxy, checked before any change.
RUNNABLE = ("rolling", "recreate", "blue-green", "canary")
# Strategies that roll a service out as a colour beside the live one.
COLOUR_STRATEGIES = ("blue-green", "canary")
NAMES = tuple(sorted(STRATEGIES))


def strategy_for(name, spec, default):
    """The strategy object for one service: its label, else the deploy's default."""
    chosen = (spec.get("Labels") or {}).get(STRATEGY_LABEL) or default
    if chosen not in STRATEGIES:
        raise StrategyError("%s: strategy %r is unknown (known: %s)" % (name, chosen, ", ".join(NAMES)))
    if chosen not in RUNNABLE:
        raise StrategyError("%s: strategy %s is not available in this version (available: %s)"
                            % (name, chosen, ", ".join(RUNNABLE)))
    return STRATEGIES[chosen]


def plan_strategies(specs, default, options):
    """Shape every service spec for its strategy; StrategyError on any bad choice or option.

    Returns ({name: shaped spec}, {name: strategy name}, {strategy name: checked options}, [notes on
    services that roll in place although the deploy asked for a colour strategy]).
    """
    if default not in STRATEGIES:
        raise StrategyError("strategy %r is unknown (known: %s)" % (default, ", ".join(NAMES)))
    if default in COLOUR_STRATEGIES and not any(routed(spec) for spec in specs.values()):
        raise StrategyError("strategy %s moves traffic through the edge proxy, but no service of the stack has a "
                            "route (conductor.swarm.route.* labels, docs/edge-proxy.md)" % default)
    checked, shaped, chosen = {}, {}, {}
    fallbacks = []
    for name in sorted(specs):
        strategy = strategy_for(name, specs[name], default)
        if strategy.name in COLOUR_STRATEGIES and not routed(specs[name]):
            # Nothing reaches it through the proxy, so there is no traffic to switch: it rolls in place.
            fallbacks.append("%s: no route on the edge proxy (conductor.swarm.route.* labels), so it rolls out in "
                             "place (rolling) instead of %s" % (name, strategy.name))
            strategy = STRATEGIES["rolling"]
        if strategy.name not in checked:
            # Options are the deploy's: they apply to the strategy it names; a service
            # that picks another strategy by label runs it with that strategy's defaults.
            checked[strategy.name] = strategy.validate(options if strategy.name == default else {})
        shaped[name] = strategy.shape_spec(specs[name], checked[strategy.name])
        chosen[name] = strategy.name
    if default not in checked:
        checked[default] = STRATEGIES[default].validate(options)
    return shaped, chosen, checked, fallbacks


def routed(spec):
    return any(k.startswith(ROUTE_PREFIX) for k in (spec.get("Labels") or {}))


def describe(chosen, checked):
    """Per strategy in use: what it does and which services it covers."""
    out = {}
    for name, strategy in sorted(chosen.items()):
        entry = out.setdefault(strategy, {"services": [], "steps": STRATEGIES[strategy].describe(checked[strategy])})
        entry["services"].append(name)
    return out


def warnings(specs, chosen, checked, names):
    found = []
    for name in names:
        strategy = STRATEGIES[chosen[name]]
        found.extend(strategy.warnings(name, specs[name], checked[strategy.name]))
    return found
