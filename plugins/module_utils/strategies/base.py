# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one small interface every strategy implements.

A strategy has a name and options (checked by `validate` before anything
changes). It shapes the service specs the stack applies (`shape_spec`, pure:
the spec hash includes its effect, so a change of strategy is a change), says
what it would do (`describe`, for check mode and the result), and warns about
plans that cannot be zero-downtime (`warnings`).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.conductor.swarm.plugins.module_utils.strategies.options import check_options

NEEDS_PROXY = "needs_proxy"


class Strategy(object):
    name = None
    schema = {}
    # Whether the strategy moves traffic itself through the edge proxy.
    needs_proxy = False

    def validate(self, options):
        return check_options("strategy_options.%s" % self.name, self.schema, options)

    def shape_spec(self, spec, options):
        """The service spec to apply under this strategy (a new dict; spec is not changed)."""
        return spec

    def describe(self, options):
        """What this strategy does, as lines a user reads in check mode."""
        raise NotImplementedError

    def release(self, ctx, plan, options):
        """After the new colour converged: move traffic to it (rollout/release.py). None: nothing to move."""
        return None

    def warnings(self, name, spec, options):
        """Why this service's plan cannot be zero-downtime, if it cannot."""
        return []
