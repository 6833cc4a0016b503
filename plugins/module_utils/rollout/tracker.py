# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Poll a swarm until every tracked service has a verdict, showing progress.

The verdicts themselves come from rollout_state; this only loops, keeps the
history each assessment needs, and prints what changed since the last poll.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.conductor.swarm.plugins.module_utils.rollout.cluster import ClusterError
from ansible_collections.conductor.swarm.plugins.module_utils.rollout.serving_gap import serving_gap
from ansible_collections.conductor.swarm.plugins.module_utils.rollout_state import (
    CONVERGED,
    FAILED,
    PENDING,
    assess_rollback,
    assess_service,
    assess_stack,
    parse_timestamp,
    progress_line,
)

# Seconds past the deadline and monitor window after which the loop gives up on its
# own: a guard for a manager clock that stopped moving; assess_service owns deadlines.
CLOCK_GUARD_SECONDS = 30
# The longest a poll waits on the manager for a change: verdicts that time alone can
# change (a task unschedulable for too long, a window ending) are re-checked at least this often.
LONGEST_WAIT_SECONDS = 5
# How long (controller clock) polls that fail are retried before tracking gives up: a manager
# that restarts its engine, or a connection that drops, is back within seconds.
POLL_RETRY_SECONDS = 30
# The pause between two tries of a failed poll.
POLL_RETRY_PAUSE_SECONDS = 2


def next_wait(assessments, now, deadline, monitor):
    """Seconds until time alone could change a verdict: a stability window ends or the deadline comes."""
    moments = [deadline, now + LONGEST_WAIT_SECONDS]
    moments.extend(a["stable_since"] + monitor for a in assessments
                   if a["verdict"] == PENDING and a.get("stable_since") is not None)
    return max(0.0, min(moments) - now)


def outcome(verdict, reason, verdicts, seconds, assessments, gaps=None, until=None):
    return {"verdict": verdict, "reason": reason, "services": verdicts, "seconds": round(seconds, 1),
            "assessments": assessments, "gaps": gaps or {}, "until": until}


class Tracker(object):
    """Tracks one set of services; `say` prints a line, `clock` gives time() and sleep()."""

    def __init__(self, cluster, stack, tracking, say, clock):
        self.cluster = cluster
        self.stack = stack
        self.tracking = tracking
        self.say = say
        self.clock = clock

    def track(self, targets, rolling_back=False, started_at=None, first=None, until=None, at_least=0):
        """Poll until every target service converged, one failed, or the deadline passed.

        Each service has until the first poll's manager time plus service_deadline, and no later than
        `until` (manager time: the whole run's end; without it, the first poll's time plus deadline),
        but at least `at_least` seconds from the first poll. The outcome's "until" is the run's end used.

        targets: {name: {"version": spec version to reach, "spec_hash": the hash label this run wrote (optional:
        a newer version with another hash is superseded)}}. first: a poll's answer already
        in hand (the apply's own look at the swarm), used instead of the first poll.
        """
        tracking = self.tracking
        start = self.clock.time()
        previous, printed, verdicts = {}, {}, {}
        manager_start = None
        assessments = []
        mark, wait = None, 0
        while True:
            info, first = first or self.poll(targets, mark, wait), None
            mark = info.get("fingerprint")
            now = info["now"]
            manager_start = manager_start or now
            raw = info["raw"]
            tasks_by_service = {}
            for task in raw["tasks"]:
                tasks_by_service.setdefault(task["ServiceID"], []).append(task)
            if until is None:
                until = manager_start + tracking["deadline"]
            deadline = min(manager_start + tracking["service_deadline"], max(until, manager_start + at_least))
            assessments = []
            for service in raw["services"]:
                name = service["Spec"]["Name"]
                if name not in targets:
                    continue
                started = started_at or parse_timestamp(service.get("UpdatedAt")) or manager_start
                assessment = assess_service(
                    service, tasks_by_service.get(service["ID"], []), targets[name]["version"], now, started,
                    tracking["monitor"], deadline, nodes=raw["nodes"], previous=previous.get(name),
                    target_hash=None if rolling_back else targets[name].get("spec_hash"))
                if rolling_back:
                    assessment = assess_rollback(assessment, deadline, now)
                previous[name] = assessment
                assessments.append(assessment)
                self.show(assessment, printed, rolling_back)
            missing = set(targets) - set(previous)
            stack = assess_stack(assessments)
            if missing:
                stack = {"verdict": FAILED, "reason": "service(s) %s disappeared" % ", ".join(sorted(missing))}
            verdicts = dict((a["name"], a["verdict"]) for a in assessments)
            elapsed = self.clock.time() - start
            if stack["verdict"] != PENDING:
                prefix = "rollback of " if rolling_back else ""
                self.say("  %sstack %s: %s after %.1fs" % (prefix, self.stack, stack["verdict"], elapsed))
                gaps = self.gaps(raw, tasks_by_service, targets, started_at) if stack["verdict"] == CONVERGED else {}
                return outcome(stack["verdict"], stack["reason"], verdicts, elapsed, assessments, gaps, until)
            if now > deadline + tracking["monitor"] + CLOCK_GUARD_SECONDS:
                return outcome(FAILED, "no verdict within the deadline", verdicts, elapsed, assessments, until=until)
            if mark is None:  # this cluster cannot wait for a change: look again after a while
                self.clock.sleep(tracking["poll_interval"])
            else:
                wait = next_wait(assessments, now, deadline, tracking["monitor"])

    def poll(self, targets, mark, wait):
        """One poll; one that fails is tried again for up to POLL_RETRY_SECONDS, then raises ClusterError."""
        lost = None
        while True:
            try:
                info = self.cluster.poll(targets, until_changed=mark, max_wait=wait)
            except ClusterError as exc:
                if lost is None:
                    lost = self.clock.time()
                    self.say("  lost contact with the manager (%s); retrying for up to %ds" % (exc, POLL_RETRY_SECONDS))
                tried = self.clock.time() - lost
                if tried >= POLL_RETRY_SECONDS:
                    raise ClusterError("%s (no answer for %ds)" % (exc, round(tried)))
                self.clock.sleep(min(POLL_RETRY_PAUSE_SECONDS, POLL_RETRY_SECONDS - tried))
                continue
            if lost is not None:
                self.say("  the manager answers again after %.0fs" % (self.clock.time() - lost))
            return info

    def gaps(self, raw, tasks_by_service, targets, started_at):
        """Per service that had no task running for a while during the rollout: how long; and say so."""
        found = {}
        for service in raw["services"]:
            name = service["Spec"]["Name"]
            if name not in targets:
                continue
            gap = serving_gap(service, tasks_by_service.get(service["ID"], []), started_at)
            if gap:
                found[name] = gap
                self.say("  %s: no task was running for %.1fs between the old version's last stop and the new "
                         "one's first healthy start" % (name, gap))
        return found

    def show(self, assessment, printed, rolling_back):
        name = assessment["name"]
        prefix = "rollback " if rolling_back else ""
        for event in assessment.get("events") or []:
            self.say("  %s%s: %s" % (prefix, name, event))
        line = prefix + progress_line(assessment)
        # Once converged, say so once: the growing "healthy for Ns" is no news.
        settled = assessment["verdict"] == CONVERGED and printed.get(name, "").find("(converged") >= 0
        if printed.get(name) != line and not settled:
            self.say("  " + line)
            printed[name] = line
