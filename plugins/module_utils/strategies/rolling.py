# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""rolling: Swarm's own update, tracked, with safe defaults where the Compose file is silent.

Where deploy.update_config leaves a key out, the key gets what a zero-downtime
update needs: failure_action rollback, and order start-first when the service
has a healthcheck (a new task takes traffic only once healthy) and publishes
no host-mode port (two tasks of one node cannot bind the same port).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import re

from ansible_collections.conductor.swarm.plugins.module_utils.strategies.base import Strategy
from ansible_collections.conductor.swarm.plugins.module_utils.strategies.options import at_least

# Swarm's own defaults for keys the Compose file does not set (docker/cli, moby).
SWARM_PARALLELISM = 1
SWARM_MONITOR_NS = 5 * 10 ** 9
SECOND_NS = 10 ** 9


def has_healthcheck(spec):
    check = spec["TaskTemplate"]["ContainerSpec"].get("Healthcheck") or {}
    test = check.get("Test") or []
    return bool(test) and test[0] != "NONE"


def host_mode_ports(spec):
    ports = (spec.get("EndpointSpec") or {}).get("Ports") or []
    return [p for p in ports if p.get("PublishMode") == "host" and p.get("PublishedPort")]


def replicas(spec):
    return ((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas")


def shell_as_pid1(spec):
    """A shell running a command string as PID 1 ignores SIGTERM unless the script traps it; a script
    that ends by exec-ing its program hands PID 1, and the stop signal, to that program."""
    container = spec["TaskTemplate"]["ContainerSpec"]
    argv = (container.get("Command") or []) + (container.get("Args") or [])
    if container.get("Init") or len(argv) < 2 or argv[0].rsplit("/", 1)[-1] not in ("sh", "bash", "ash") \
            or argv[1] != "-c":
        return False
    script = argv[2] if len(argv) > 2 else ""
    last = re.split(r"[;\n]|&&|\|\|", script.strip().rstrip(";"))[-1].strip()
    return not last.startswith("exec ")


def plan_warnings(name, spec, drain_seconds):
    """Why a service's update cannot be zero-downtime; shared by the strategies that update in place."""
    update = spec.get("UpdateConfig") or {}
    order = update.get("Order") or "stop-first"
    warnings = []
    if order == "start-first" and not has_healthcheck(spec):
        warnings.append("%s: start-first without a healthcheck: a new task counts as ready as soon as its "
                        "process starts, before it can serve" % name)
    if order == "start-first" and host_mode_ports(spec):
        warnings.append("%s: start-first with a host-mode published port: the new task cannot bind the port on "
                        "a node where the old one still runs, so each node's update stalls or waits for a free "
                        "node" % name)
    if order == "stop-first" and replicas(spec) == 1:
        warnings.append("%s: a single replica updated stop-first: nothing serves between the old task's stop "
                        "and the new task's start" % name)
    grace = spec["TaskTemplate"]["ContainerSpec"].get("StopGracePeriod")
    if grace is not None and grace < drain_seconds * SECOND_NS:
        warnings.append("%s: stop_grace_period %.1fs is shorter than the %ss drain: in-flight requests are cut "
                        "when the task is killed" % (name, grace / float(SECOND_NS), drain_seconds))
    if shell_as_pid1(spec):
        warnings.append("%s: a shell runs the command as PID 1 without init: unless the script traps SIGTERM, "
                        "each stop waits the whole grace period and then kills in-flight requests "
                        "(set init: true)" % name)
    return warnings


class Rolling(Strategy):
    name = "rolling"
    schema = {"drain_seconds": ("int", 2, at_least(0))}

    def shape_spec(self, spec, options):
        spec = copy.deepcopy(spec)
        update = spec.setdefault("UpdateConfig", {"Parallelism": SWARM_PARALLELISM, "Monitor": SWARM_MONITOR_NS,
                                                  "MaxFailureRatio": 0})
        if not update.get("FailureAction"):
            update["FailureAction"] = "rollback"
        if not update.get("Order") and has_healthcheck(spec) and not host_mode_ports(spec):
            update["Order"] = "start-first"
        return spec

    def describe(self, options):
        return ["update each changed service in place as its update_config says (Swarm's rolling update), "
                "track it until healthy, roll the whole stack back if a service fails"]

    def warnings(self, name, spec, options):
        return plan_warnings(name, spec, options["drain_seconds"])
