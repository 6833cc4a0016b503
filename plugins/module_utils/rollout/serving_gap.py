# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long a service had no task running during its rollout, from the tasks' own timestamps.

Recreate's downtime, measured and reported: from the moment the last task of
the old spec stopped to the moment the first task of the new spec ran (with a
healthcheck, "running" means healthy). Zero when the new one ran before the
last old one stopped, as in a start-first update.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.conductor.swarm.plugins.module_utils.rollout_state import parse_timestamp, task_matches_template

STOPPED = ("shutdown", "complete", "failed", "rejected", "orphaned", "remove")


def serving_gap(service, tasks, started_at):
    """Seconds without a running task between the old spec's last stop and the new spec's first run, or None."""
    template = (service.get("Spec") or {}).get("TaskTemplate") or {}
    old_stops, new_runs = [], []
    for task in tasks:
        status = task.get("Status") or {}
        when = parse_timestamp(status.get("Timestamp"))
        if when is None or (started_at is not None and when < started_at):
            continue
        if task_matches_template(task, template):
            if status.get("State") == "running":
                new_runs.append(when)
        elif status.get("State") in STOPPED:
            old_stops.append(when)
    if not old_stops or not new_runs:
        return None
    return round(max(0.0, min(new_runs) - max(old_stops)), 1)
