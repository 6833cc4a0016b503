# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A deploy's rollout, owned in one place: apply, track, then clean up or roll back.

Plain Python: the swarm is a Cluster (cluster.py), the edge proxy a Proxy
(proxy.py), time a clock, output a `say` function, so a unit test drives a whole
rollout with recorded answers. tracker.py polls until a verdict; the strategies'
releases (rollout/release.py) move traffic; serving_gap.py measures downtime.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.conductor.swarm.plugins.module_utils.rollout.cluster import ClusterError
from ansible_collections.conductor.swarm.plugins.module_utils.rollout.proxy import ProxyError
from ansible_collections.conductor.swarm.plugins.module_utils.rollout.release import ReleaseContext
from ansible_collections.conductor.swarm.plugins.module_utils.rollout.tracker import Tracker
from ansible_collections.conductor.swarm.plugins.module_utils.rollout_state import CONVERGED, FAILED, ROLLED_BACK
from ansible_collections.conductor.swarm.plugins.module_utils.strategies.registry import STRATEGIES

# Task failures whose logs are shown, per failing service: the last ones.
FAILURES_SHOWN = 2
# `deadline` bounds the whole run, rollback included; a rollback that starts with less than this
# left still gets this long (service_deadline permitting), so it is never cut off at once.
ROLLBACK_MINIMUM_SECONDS = 60


def summary(rollout):
    """A tracked rollout as the task returns it: without the per-service assessments of its last poll,
    nor the run's end it was tracked against."""
    return dict((k, v) for k, v in rollout.items() if k not in ("assessments", "until"))


class Rollout(object):
    """tracking: wait, deadline, service_deadline, monitor, rollback, poll_interval, log_lines."""

    def __init__(self, cluster, stack, tracking, say, clock, check_mode=False, proxy=None, lease=None):
        self.cluster = cluster
        self.lease = lease  # the stack lock (lease.py); None: this run takes no lock
        self.proxy = proxy
        self.clock = clock
        self.stack = stack
        self.tracking = tracking
        self.say = say
        self.check_mode = check_mode
        self.tracker = Tracker(cluster, stack, tracking, say, clock)
        # The manager time the whole run must end by: the apply's start (or first look) plus `deadline`.
        self.until = None

    def run(self):
        """The whole run, under the stack lock when there is one (the apply takes it): another run's lock
        stops it before any change. The lock is released however the run ends."""
        try:
            result = self.steps()
        finally:
            if self.lease is not None:
                self.lease.release()
        if self.lease is not None and self.lease.warnings:
            result.setdefault("warnings", []).extend(self.lease.warnings)
        return result

    def steps(self):
        self.say("  stack %s: %s" % (self.stack, "checking the files against the swarm" if self.check_mode
                                     else "applying what differs from the swarm"))
        result = dict(self.cluster.apply() if self.lease is None else self.lease.apply(self.stack, self.check_mode))
        first = result.pop("snapshot", None)
        if result.get("failed"):
            partial = result.pop("partial", None)
            if partial:
                return self.undo_partial(result, partial)
            return result
        self.say_plan(result)
        if self.check_mode or not self.tracking["wait"]:
            return result
        changed = dict((name, svc) for name, svc in result["services"].items()
                       if svc["action"] in ("create", "update"))
        changed.update(self.resumed(result))
        switches = [p for p in (result.get("variants") or {}).values() if not p["unchanged"]]
        if not changed and not switches:
            return result
        start = result.get("started_at") or (first or {}).get("now")
        self.until = None if start is None else start + self.tracking["deadline"]
        if changed:
            try:
                rollout = self.tracker.track(changed, started_at=result.get("started_at"), first=first,
                                             until=self.until)
            except ClusterError as exc:
                result.update(failed=True, msg="lost track of the rollout: %s" % exc)
                return result
            self.until = rollout["until"]
            if rollout["verdict"] != CONVERGED:
                return self.fail_and_roll_back(result, changed, rollout)
            result["rollout"] = summary(rollout)
        failed = self.release(result)
        if failed:
            return self.fail_release(result, changed, failed)
        if result.get("changed"):
            self.clean_up(result)
        return result

    def resumed(self, result):
        """Services the files leave unchanged whose update Swarm is still rolling out: an earlier run (killed, or
        cut off from the manager) left it, and this run tracks it to its end, rolling back if it fails."""
        found = {}
        for name, svc in sorted(result["services"].items()):
            if svc["action"] == "unchanged" and svc.get("update_state") == "updating":
                self.say("  %s: its update to this spec is still rolling out (an earlier run's): tracking it" % name)
                found[name] = dict(svc, action="update")
        if found:
            result["resumed"] = sorted(found)
        return found

    # --- colours ------------------------------------------------------------------

    def release(self, result):
        """Move traffic to every new colour that converged; the failures, by route."""
        variants = result.get("variants") or {}
        result["serving"] = dict((route, plan["live"]) for route, plan in variants.items())
        failed = {}
        # The options each strategy runs with, as the manager checked them before the change.
        options = (result.get("strategy") or {}).get("options") or {}
        ctx = ReleaseContext(self.cluster, self.proxy, self.say, self.clock, self.tracking["poll_interval"])
        for route, plan in sorted(variants.items()):
            if plan["unchanged"]:
                continue
            try:
                released = STRATEGIES[plan["strategy"]].release(ctx, plan, options[plan["strategy"]])
            except (ProxyError, ClusterError) as exc:
                released = {"ok": False, "serving": None, "reason": "the release stopped half way: %s" % exc}
            result.setdefault("releases", {})[route] = released
            result["serving"][route] = released["serving"]
            if not released["ok"]:
                failed[route] = released["reason"]
                continue
            for idle in plan.get("others") or []:
                # A variant left over from an earlier release (say, the one that rolled in place) takes no traffic.
                try:
                    self.cluster.scale(idle, 0)
                    self.say("  %s: %s takes no traffic: scaled down" % (route, idle))
                except ClusterError as exc:
                    result.setdefault("warnings", []).append("could not scale %s down: %s" % (idle, exc))
        return failed

    def fail_release(self, result, changed, failed):
        """A colour that failed its release already left traffic where it was; the rest of the stack goes back."""
        why = "; ".join("%s: %s" % (route, reason) for route, reason in sorted(failed.items()))
        colour_services = set(p["service"] for p in (result.get("variants") or {}).values())
        others = dict((n, s) for n, s in changed.items() if n not in colour_services)
        result["failed"] = True
        if not others:
            result["msg"] = "deploy of stack %s failed: %s" % (self.stack, why)
            return result
        return self.roll_back(result, others, why)

    def say_plan(self, result):
        """What each strategy does with which services, and where each colour release goes."""
        verb = "would roll out" if self.check_mode else "rolling out"
        for name, entry in sorted(((result.get("strategy") or {}).get("plan") or {}).items()):
            self.say("  %s %s by %s:" % (verb, ", ".join(entry["services"]), name))
            for step in entry["steps"]:
                self.say("    - " + step)
        for note in (result.get("strategy") or {}).get("notes") or []:
            self.say("  " + note)
        for route, plan in sorted((result.get("variants") or {}).items()):
            if plan.get("in_place"):
                self.say("  %s: runs as colours; %s is updated in place, where it serves (%s)" % (
                    route, plan["live"], plan["service"]))
            elif plan["unchanged"]:
                self.say("  %s: %s already runs this version and takes the traffic: nothing to switch" % (
                    route, plan["live"]))
            else:
                self.say("  %s: the new version goes to %s (%s); %s" % (
                    route, plan["target"], plan["service"],
                    "%s serves until the switch" % plan["live"] if plan["live"] else "nothing serves it yet"))

    def clean_up(self, result):
        if result.pop("cleanup_possible", True) is False:
            return  # the apply found no name with more versions than are kept: nothing to remove
        cleanup = self.cluster.cleanup()
        if cleanup.get("failed"):
            # The rollout is done and healthy; old versions merely stay until the next deploy.
            result.setdefault("warnings", []).append(
                "stack %s converged, but removing unused config and secret versions failed: %s"
                % (self.stack, cleanup.get("msg")))
        else:
            result["removed"]["configs"] = cleanup["removed"]["configs"]
            result["removed"]["secrets"] = cleanup["removed"]["secrets"]

    # --- failure ----------------------------------------------------------------

    def explain(self, changed, rollout):
        """(lines saying why the rollout failed, with the failed tasks' last log lines; logs by task)."""
        failing = [a for a in rollout["assessments"] if a["verdict"] in (FAILED, ROLLED_BACK)]
        lines, logs = [], {}
        if not failing:  # the stack failed as a whole: a service disappeared, or no verdict in time
            lines.append("stack %s: %s" % (self.stack, rollout["reason"]))
        task_ids = [f["task_id"] for a in failing for f in a["failures"][-FAILURES_SHOWN:]]
        if task_ids:
            # Logs are a courtesy: failing to fetch them must not stop the rollback.
            try:
                logs = self.cluster.poll(changed, logs_for=task_ids)["logs"]
            except ClusterError as exc:
                lines.append("(logs of the failed tasks are unavailable: %s)" % exc)
        for assessment in failing:
            lines.append("%s %s: %s" % (assessment["name"], assessment["verdict"].replace("_", " "),
                                        assessment["reason"]))
            for failure in assessment["failures"][-FAILURES_SHOWN:]:
                tail = [line for line in logs.get(failure["task_id"], []) if line][-self.tracking["log_lines"]:]
                if tail:
                    lines.append("  last log lines of task %s (%s):" % (failure["task_id"][:12], failure["reason"]))
                    lines.extend("    " + line for line in tail)
        return lines, logs

    def fail_and_roll_back(self, result, changed, rollout):
        lines, logs = self.explain(changed, rollout)
        why = " | ".join(lines)
        result["failed"] = True
        result["rollout"] = dict(summary(rollout), logs=logs)
        for line in lines:
            self.say("  " + line)
        # Someone else's spec is theirs: rolling it back would undo their deploy, not ours.
        superseded = sorted(a["name"] for a in rollout["assessments"] if a.get("superseded"))
        return self.roll_back(result, changed, why, superseded=superseded)

    def undo_partial(self, result, partial):
        """The swarm refused part of the apply: what it had changed goes back, whatever `rollback` says, since
        a half-applied stack is never left behind."""
        self.say("  %s; undoing what this deploy had changed" % result["msg"])
        return self.roll_back(result, partial["services"], result["msg"], always=True, objects=partial["objects"])

    def roll_back(self, result, changed, why, always=False, objects=(), superseded=()):
        """The changed services back on their previous specs, tracked until they are, then the networks, configs
        and secrets the deploy made removed; the task's message says how it went, then why the deploy failed.
        superseded: services someone else changed since, left as they are."""
        if not (self.tracking["rollback"] or always):
            result["msg"] = "deploy of stack %s failed; rollback is off, so the stack is left as it is. %s" % (
                self.stack, why)
            return result
        self.say("  rolling back stack %s to the previous version" % self.stack)
        for name in superseded:
            self.say("  %s: left as it is: someone else changed its spec since this deploy" % name)
        changed = dict((n, s) for n, s in changed.items() if n not in superseded)
        undo = self.cluster.roll_back(
            services=sorted(n for n, s in changed.items() if s["action"] == "update"),
            expected_hashes=dict((n, s["spec_hash"]) for n, s in changed.items()),
            remove=sorted(n for n, s in changed.items() if s["action"] == "create"))
        result["rollback"] = undo
        if undo.get("failed"):
            result["msg"] = "deploy of stack %s failed, and so did its rollback (%s). %s" % (
                self.stack, undo.get("msg"), why)
            return result
        back = dict((n, {"version": v}) for n, v in undo["rolled_back"].items())
        not_back = ["%s (superseded: someone else changed its spec since this deploy, so it is left to them)" % name
                    for name in superseded]
        for name, reason in undo["skipped"].items():
            if reason == "already rolled back by Swarm":
                back[name] = {"version": 0}
            else:
                not_back.append("%s (%s)" % (name, reason))
        if back:
            try:
                tracked = self.tracker.track(back, rolling_back=True, until=self.until,
                                             at_least=ROLLBACK_MINIMUM_SECONDS)
            except ClusterError as exc:
                tracked = {"verdict": FAILED, "reason": "lost track of the rollback: %s" % exc}
            result["rollback"]["rollout"] = summary(tracked)
            if tracked["verdict"] != CONVERGED:
                result["msg"] = ("deploy of stack %s failed and the rollback did not converge (%s): the stack may be "
                                 "serving a mix of versions. %s" % (self.stack, tracked["reason"], why))
                return result
        undone = sorted(list(back) + undo["removed"])
        if objects:
            # Only now: a config or network is in use until the services that had it are back or gone.
            removal = self.cluster.roll_back(services=[], expected_hashes={}, remove=[], remove_objects=list(objects))
            result["rollback"]["removed_objects"] = removal.get("removed_objects", [])
            undone += removal.get("removed_objects", [])
            not_back += ["%s (%s)" % (label, reason) for label, reason in sorted((removal.get("kept") or {}).items())]
            if removal.get("failed"):
                not_back.append("networks, configs and secrets (%s)" % removal.get("msg"))
        restored = ", ".join(undone)
        if not_back:
            result["msg"] = ("deploy of stack %s failed; rolled back %s, but could not roll back %s. %s" % (
                self.stack, restored or "nothing", ", ".join(sorted(not_back)), why))
            return result
        result["msg"] = ("deploy of stack %s failed and was rolled back: the stack is back on the previous version "
                         "(%s). %s" % (self.stack, restored or "no service", why))
        return result
