# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""recreate: stop every task of a changed service, then start the new version.

For apps that cannot run two versions at once. Swarm does it in one update:
parallelism 0 (all tasks at once) and stop-first. The gap is downtime, expected
and reported by the rollout, never hidden.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.conductor.swarm.plugins.module_utils.strategies.base import Strategy
from ansible_collections.conductor.swarm.plugins.module_utils.strategies.options import at_least
from ansible_collections.conductor.swarm.plugins.module_utils.strategies.rolling import SWARM_MONITOR_NS


class Recreate(Strategy):
    name = "recreate"
    schema = {"drain_seconds": ("int", 2, at_least(0))}

    def shape_spec(self, spec, options):
        spec = copy.deepcopy(spec)
        update = spec.setdefault("UpdateConfig", {"Monitor": SWARM_MONITOR_NS, "MaxFailureRatio": 0})
        update["Parallelism"] = 0
        update["Order"] = "stop-first"
        update.pop("Delay", None)
        if not update.get("FailureAction"):
            update["FailureAction"] = "rollback"
        return spec

    def describe(self, options):
        return ["stop every task of each changed service at once, then start the new version "
                "(downtime between the two is expected and reported)",
                "track the new version until healthy; if it fails, Swarm rolls back and the stack is rolled back"]
