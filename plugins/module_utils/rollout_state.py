# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decide how a Swarm service rollout is going, from what the Docker API says.

Pure logic: no Docker, no Ansible. A poller asks a swarm manager, again and
again while a stack deploy converges, for
``GET /services/{id}`` (``service``), ``GET /tasks?filters={"service":[id]}``
(``tasks``) and optionally ``GET /nodes`` (``nodes``), and hands the answers to
``assess_service``. Swarm keeps container health off the task, so the poller
reads it from each task's container and adds it to the task dict as
``"Health"``: "healthy", "unhealthy", "starting" or None.

Which tasks belong to the new spec: a task is *new* when its ``Spec`` equals
the service's current ``Spec.TaskTemplate`` on ContainerSpec, Resources,
Placement, Networks and ForceUpdate. A key missing on either side counts as
empty ({}, [] or 0), and empty values nested inside are dropped before
comparing, because the API leaves them out on one object and not the other.
Two details follow Swarm's own rule (swarmkit ``IsTaskDirty``):
Placement.Constraints are not compared, because Swarm keeps a task whose node
still satisfies changed constraints, and ForceUpdate is, because a forced
update replaces tasks whose spec did not otherwise change. For jobs, a new task
must also belong to the service's current ``JobStatus.JobIteration``.

Other rules worth knowing:

* A service whose version is above the one this run wrote, with a spec hash
  label (``conductor.swarm.spec-hash``) that is not the one it wrote, was
  changed by someone else: it fails as superseded, since converging on that
  spec says nothing of this run's. Swarm's own rollback also bumps the
  version; its update state says so, and it stays a rollback.
* Failures count only for new tasks whose last state change is not before
  ``started_at`` (compared with the manager's task timestamps, so pass a
  manager time if you can, such as ``parse_timestamp(service["UpdatedAt"])``
  right after the update): an old failure of the same spec is not this
  rollout's failure.
* A running task is healthy when its Health is "healthy", or when it has no
  Health and the service spec defines no healthcheck. A "starting" or
  "unhealthy" container never counts as healthy, even when its healthcheck
  comes from the image rather than the service.
* Tasks on nodes the node list shows as not ready are neither counted nor
  waited for, and their events say so (``task 3 on worker-2: running on a
  node that is down (not counted)``): their state is only what the node last
  reported. A global service's desired count is the number of ready, active
  nodes that satisfy its placement constraints.
* A task that cannot be scheduled ("no suitable node") for more than
  UNSCHEDULABLE_GRACE_SECONDS fails its replica at once: Swarm does not retry
  it into new tasks, so the per-replica allowance would never be reached.
* A rollout whose counts have not moved for STALLED_ON_DOWN_NODE_SECONDS while a
  task of the service that Swarm means to run sits on a node that is down fails
  then, not at the deadline: Swarm's updater can wait for that task for ever.
* A job converges as soon as its tasks have completed; there is no stability
  window for work that has finished.
* The stability window starts at the manager's timestamp of the last task
  state change (a task turns "running" once its healthcheck passes), kept
  between the last assessment that saw the service not ready and ``now``:
  how often a poller looks does not lengthen it, and a node's lagging clock
  cannot shorten it below what was seen.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import hashlib
import json
import re

from ansible_collections.conductor.swarm.plugins.module_utils.labels import FAIL_MODE_LABEL, FAILURES_ALLOWED_LABEL, HASH_LABEL


class ServiceVerdict:
    """The verdicts assess_service gives a service."""

    PENDING = "pending"
    CONVERGED = "converged"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    IGNORED = "ignored"


PENDING = ServiceVerdict.PENDING
CONVERGED = ServiceVerdict.CONVERGED
FAILED = ServiceVerdict.FAILED
ROLLED_BACK = ServiceVerdict.ROLLED_BACK
IGNORED = ServiceVerdict.IGNORED

FAIL_FAST = "fail-fast"
WAIT = "wait"
IGNORE = "ignore"
FAIL_MODES = (FAIL_FAST, WAIT, IGNORE)
DEFAULT_FAIL_MODE = FAIL_FAST
DEFAULT_FAILURES_ALLOWED = 2
UNSCHEDULABLE_GRACE_SECONDS = 30
# A rollout that has not moved for this long while a task of its service sits on a node that is down is
# decided then, not at the deadline: Swarm's updater can wait for such a task for ever.
STALLED_ON_DOWN_NODE_SECONDS = 60

REPLICATED = "replicated"
GLOBAL = "global"
REPLICATED_JOB = "replicated-job"
GLOBAL_JOB = "global-job"
PER_NODE_MODES = (GLOBAL, GLOBAL_JOB)
JOB_MODES = (REPLICATED_JOB, GLOBAL_JOB)

ROLLBACK_STATES = ("rollback_started", "rollback_paused", "rollback_completed")
PAUSED_STATE = "paused"
# Task states a task never leaves.
TERMINAL_STATES = ("complete", "failed", "rejected", "shutdown", "remove", "orphaned")
# Desired states of a task Swarm means to run: the updater creates new tasks
# as "ready" before starting them, and job tasks are meant to "complete".
ACTIVE_DESIRED_STATES = ("ready", "running", "complete")
IMAGE_PULL_ERRORS = ("no such image", "manifest unknown", "pull access denied")
COMPARED_SPEC_KEYS = (("ContainerSpec", {}), ("Resources", {}), ("Placement", {}),
                      ("Networks", []), ("ForceUpdate", 0))

_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$")
_CONSTRAINT = re.compile(r"^\s*([^=!\s]+)\s*(==|!=)\s*(.*?)\s*$")
_UNKNOWN = object()


# ---------------------------------------------------------------- labels ---

def _spec(service):
    return service.get("Spec") or {}


def _template(spec):
    return spec.get("TaskTemplate") or {}


def service_name(service):
    """The service's name, or its ID when the spec has none."""
    return _spec(service).get("Name") or service.get("ID") or "?"


def _label(service, key):
    return (_spec(service).get("Labels") or {}).get(key)


def read_fail_mode(service):
    """The service's fail mode from its label; ValueError when unknown."""
    value = _label(service, FAIL_MODE_LABEL)
    if value is None:
        return DEFAULT_FAIL_MODE
    mode = str(value).strip().lower()
    if mode not in FAIL_MODES:
        raise ValueError("service %s: label %s is %r; use one of: %s"
                         % (service_name(service), FAIL_MODE_LABEL, value, ", ".join(FAIL_MODES)))
    return mode


def read_failures_allowed(service):
    """Failed tasks a replica (or node) may have before it counts as failed."""
    value = _label(service, FAILURES_ALLOWED_LABEL)
    if value is None:
        return DEFAULT_FAILURES_ALLOWED
    text = str(value).strip()
    if isinstance(value, bool) or not re.match(r"^[0-9]+$", text):
        raise ValueError("service %s: label %s is %r; it must be a whole number, 0 or more"
                         % (service_name(service), FAILURES_ALLOWED_LABEL, value))
    return int(text)


def service_mode(service):
    """One of REPLICATED, GLOBAL, REPLICATED_JOB, GLOBAL_JOB."""
    mode = _spec(service).get("Mode") or {}
    for key, name in (("Global", GLOBAL), ("ReplicatedJob", REPLICATED_JOB), ("GlobalJob", GLOBAL_JOB)):
        if key in mode:
            return name
    return REPLICATED


# ------------------------------------------------------------ timestamps ---

def parse_timestamp(text):
    """Seconds since the epoch for a Docker RFC 3339 time (nanoseconds allowed).

    None when the text is missing, unparseable or Go's zero time.
    """
    match = _TIMESTAMP.match(text) if isinstance(text, str) else None
    if not match:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    if year <= 1:
        return None
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    fraction = float("0." + match.group(7)) if match.group(7) else 0.0
    zone = match.group(8)
    if zone != "Z":
        offset = int(zone[1:3]) * 3600 + int(zone[4:6]) * 60
        seconds -= offset if zone[0] == "+" else -offset
    return seconds + fraction


def _status(task):
    return task.get("Status") or {}


def _state(task):
    return _status(task).get("State")


def _changed_at(task):
    return parse_timestamp(_status(task).get("Timestamp"))


# ----------------------------------------------------------------- nodes ---

def _node_ready(node):
    return (node.get("Status") or {}).get("State") == "ready"


def _node_attribute(node, key):
    spec, description = node.get("Spec") or {}, node.get("Description") or {}
    platform = description.get("Platform") or {}
    lowered = key.lower()
    fixed = {"node.id": node.get("ID"), "node.hostname": description.get("Hostname"),
             "node.role": spec.get("Role"), "node.platform.os": platform.get("OS"),
             "node.platform.arch": platform.get("Architecture")}
    if lowered in fixed:
        return fixed[lowered]
    for prefix, labels in (("node.labels.", spec.get("Labels")),
                           ("engine.labels.", (description.get("Engine") or {}).get("Labels"))):
        if lowered.startswith(prefix):
            return (labels or {}).get(key[len(prefix):])
    return _UNKNOWN


def _satisfies(node, constraint):
    match = _CONSTRAINT.match(constraint)
    if not match:
        return True  # Swarm refuses malformed constraints at deploy time
    key, operator, expected = match.groups()
    actual = _node_attribute(node, key)
    if actual is _UNKNOWN:
        return True  # an attribute this module does not model: trust Swarm
    # Swarm compares constraint values without regard to case.
    equal = actual is not None and str(actual).lower() == expected.lower()
    return equal if operator == "==" else not equal


def eligible_nodes(service, nodes):
    """Nodes a global service runs on: ready, active, matching its constraints."""
    constraints = (_template(_spec(service)).get("Placement") or {}).get("Constraints") or []
    return [node for node in nodes
            if _node_ready(node) and (node.get("Spec") or {}).get("Availability") == "active"
            and all(_satisfies(node, constraint) for constraint in constraints)]


def _node_names(nodes):
    return dict((node.get("ID"), (node.get("Description") or {}).get("Hostname") or node.get("ID"))
                for node in nodes or ())


def _counts_for_progress(mode, nodes, eligible):
    """A predicate: does this task count towards the service's progress?"""
    if eligible is not None:
        eligible_ids = set(node.get("ID") for node in eligible)
        return lambda task: task.get("NodeID") in eligible_ids
    if nodes is None:
        return lambda task: True
    ready_ids = set(node.get("ID") for node in nodes if _node_ready(node))
    # An unassigned task is waiting for the scheduler, not for a node.
    return lambda task: not task.get("NodeID") or task.get("NodeID") in ready_ids


# ------------------------------------------------------------- new spec ---

def _is_empty(value):
    return value is None or value == {} or value == [] or value == ""


def _pruned(value):
    if isinstance(value, dict):
        pruned = dict((key, _pruned(item)) for key, item in value.items())
        return dict((key, item) for key, item in pruned.items() if not _is_empty(item))
    if isinstance(value, list):
        return [_pruned(item) for item in value]
    return value


def _comparable(task_spec):
    spec = task_spec or {}
    parts = {}
    for key, empty in COMPARED_SPEC_KEYS:
        parts[key] = empty if spec.get(key) is None else spec.get(key)
    parts["Placement"] = dict((key, value) for key, value in parts["Placement"].items()
                              if key != "Constraints")
    return _pruned(parts)


def spec_digest(task_spec):
    """A short digest of what task_matches_template compares in a task spec or TaskTemplate."""
    text = json.dumps(_comparable(task_spec), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def task_matches_template(task, task_template):
    """True when the task was made from this TaskTemplate (see the module docstring). A compact
    task (compact_task) carries the digest of its spec instead of the spec."""
    if "SpecDigest" in task:
        return task["SpecDigest"] == spec_digest(task_template)
    return _comparable(task.get("Spec")) == _comparable(task_template)


# The task keys the assessments read: the rest (network attachments, most of the spec) is
# left out of a poll's answer, which for a large stack is most of its size.
TASK_KEYS = ("ID", "ServiceID", "NodeID", "Slot", "Status", "DesiredState", "Version", "CreatedAt", "JobIteration",
             "Health")


def compact_task(task):
    """The task as the assessments need it: its spec reduced to a digest and the image."""
    small = dict((key, task[key]) for key in TASK_KEYS if key in task)
    spec = task.get("Spec") or {}
    small["SpecDigest"] = spec_digest(spec)
    small["Spec"] = {"ContainerSpec": {"Image": (spec.get("ContainerSpec") or {}).get("Image")}}
    return small


def _split_tasks(service, tasks):
    """(new, old): the service's tasks made from its current spec, and the rest."""
    template = _template(_spec(service))
    iteration = ((service.get("JobStatus") or {}).get("JobIteration") or {}).get("Index")
    new, old = [], []
    for task in tasks:
        if service.get("ID") and task.get("ServiceID") not in (None, service.get("ID")):
            continue
        current = task_matches_template(task, template) and (
            iteration is None or (task.get("JobIteration") or {}).get("Index") == iteration)
        (new if current else old).append(task)
    return sorted(new, key=_changed_order), sorted(old, key=_changed_order)


def _changed_order(task):
    return _changed_at(task) or 0.0


# --------------------------------------------------------------- progress ---

def _has_healthcheck(service):
    container = _template(_spec(service)).get("ContainerSpec") or {}
    test = (container.get("Healthcheck") or {}).get("Test") or []
    return bool(test) and test[0] != "NONE"


def _is_running(task):
    # Job tasks run with DesiredState "complete"; a service task being stopped does not count.
    return _state(task) == "running" and task.get("DesiredState") in ("running", "complete")


def _is_healthy(task, has_healthcheck):
    health = task.get("Health")
    return health == "healthy" or (health is None and not has_healthcheck)


def _is_updated(task, job):
    if job and _state(task) == "complete":
        return True
    return task.get("DesiredState") in ACTIVE_DESIRED_STATES and _state(task) not in TERMINAL_STATES


def _desired(service, mode, eligible, tasks):
    spec_mode = _spec(service).get("Mode") or {}
    if mode == REPLICATED:
        replicas = (spec_mode.get("Replicated") or {}).get("Replicas")
        return 1 if replicas is None else int(replicas)
    if mode == REPLICATED_JOB:
        job = spec_mode.get("ReplicatedJob") or {}
        return int(job.get("TotalCompletions") or job.get("MaxConcurrent") or 1)
    if eligible is not None:
        return len(eligible)
    # Without the node list, the nodes Swarm placed tasks on are all we know.
    return len(set(task.get("NodeID") for task in tasks
                   if task.get("NodeID") and task.get("DesiredState") in ACTIVE_DESIRED_STATES))


def _completed(mode, tasks):
    done = [task for task in tasks if _state(task) == "complete"]
    if mode == GLOBAL_JOB:
        return len(set(task.get("NodeID") for task in done))
    return len(done)


def _progress(service, mode, new, old, counted, desired):
    job = mode in JOB_MODES
    new = [task for task in new if counted(task)]
    has_healthcheck = _has_healthcheck(service)
    running = [task for task in new if _is_running(task)]
    healthy = [task for task in running if _is_healthy(task, has_healthcheck)]
    return {
        "desired": desired,
        "updated": sum(1 for task in new if _is_updated(task, job)),
        "running": len(running),
        "healthy": len(healthy),
        "completed": _completed(mode, new) if job else None,
        "old_running": sum(1 for task in old if counted(task) and _is_running(task)),
        "healthy_tasks": sorted(task.get("ID") for task in healthy),
    }


def _shortfall(progress):
    """What still keeps the service from its goal, as short phrases."""
    desired = progress["desired"]
    keys = ("completed",) if progress["completed"] is not None else ("updated", "running", "healthy")
    # Extra completions are no shortfall; extra running tasks are (Swarm is still moving).
    missing = ["%d/%d %s" % (progress[key], desired, key) for key in keys
               if progress[key] < desired or (progress[key] > desired and key != "completed")]
    if progress["old_running"] and progress["completed"] is None:
        count = progress["old_running"]
        missing.append("%d old task%s still running" % (count, "" if count == 1 else "s"))
    return missing


# --------------------------------------------------------------- failures ---

def _image_ref(task):
    image = ((task.get("Spec") or {}).get("ContainerSpec") or {}).get("Image") or "?"
    return image.split("@", 1)[0]  # the digest Swarm pins only makes the line longer


def _exit_code(task):
    container = _status(task).get("ContainerStatus") or {}
    if "ExitCode" in container:
        return container["ExitCode"]
    # The API leaves a zero exit code out; no container ID means no container ran.
    return 0 if container.get("ContainerID") else None


def _failure_reason(task):
    status = _status(task)
    err = (status.get("Err") or "").strip()
    if any(marker in err.lower() for marker in IMAGE_PULL_ERRORS):
        return "image %s cannot be pulled: %s" % (_image_ref(task), err)
    if "unhealthy" in err.lower():
        return "healthcheck failing (%s)" % err
    code = _exit_code(task)
    if code:
        return "exit code %d" % code
    if status.get("State") == "complete":
        return "exited with code 0, but a service task must keep running"
    return err or status.get("Message") or status.get("State") or "unknown failure"


def _unschedulable_for(task, now, started_at):
    """Seconds a task has waited for a node that Swarm cannot find, else 0."""
    err = _status(task).get("Err") or ""
    if _state(task) != "pending" or "no suitable node" not in err:
        return 0
    since = [moment for moment in (parse_timestamp(task.get("CreatedAt")), started_at)
             if moment is not None]
    return now - max(since) if since else 0


def _failure(task, reason, exit_code=None):
    return {"task_id": task.get("ID"), "slot": task.get("Slot"), "node_id": task.get("NodeID"),
            "state": _state(task), "reason": reason, "exit_code": exit_code}


def _task_failure(task, job, now, started_at):
    """The failure this task shows, or None."""
    state = _state(task)
    if state in ("failed", "rejected") or (state == "complete" and not job):
        changed = _changed_at(task)
        if started_at is not None and changed is not None and changed < started_at:
            return None  # an earlier rollout's failure
        return _failure(task, _failure_reason(task), _exit_code(task))
    if _is_running(task) and task.get("Health") == "unhealthy":
        return _failure(task, "healthcheck failing")
    if _unschedulable_for(task, now, started_at) > UNSCHEDULABLE_GRACE_SECONDS:
        # No elapsed time in the reason: it would make a new event at every poll.
        return _failure(task, "%s for more than %ds" % (_status(task).get("Err"), UNSCHEDULABLE_GRACE_SECONDS))
    return None


def _failures(tasks, mode, now, started_at, seen=None):
    """Failures of these tasks; `seen` is the previous poll's task states, by task ID."""
    found = [_task_failure(task, mode in JOB_MODES, now, started_at) for task in tasks]
    return [_with_history(failure, seen) for failure in found if failure is not None]


def _with_history(failure, seen):
    # A task last seen "starting" that was stopped (exit 0, or killed by SIGTERM/SIGKILL)
    # never passed its healthcheck: Swarm holds a task there until it does. A crash
    # with its own exit code stays a crash.
    if ((seen or {}).get(failure["task_id"]) or {}).get("state") == "starting" \
            and failure["exit_code"] in (None, 0, 137, 143) and "healthcheck" not in failure["reason"] \
            and "cannot be pulled" not in failure["reason"]:
        failure = dict(failure, reason="healthcheck never passed (stopped while starting: %s)" % failure["reason"])
    return failure


def _unit_name(failure, mode, names):
    node = names.get(failure["node_id"], failure["node_id"])
    if mode in PER_NODE_MODES:
        return "the task on %s" % node
    return "replica %s" % (failure["slot"] or 0)


def _failing_unit(failures, mode, allowed, names):
    """Why a replica (or node) has failed beyond its allowance, or None."""
    per_unit = {}
    for failure in failures:
        name = _unit_name(failure, mode, names)
        if failure["state"] == "pending":
            return "%s cannot be scheduled: %s" % (name, failure["reason"])
        per_unit.setdefault(name, []).append(failure)
    for name, unit_failures in per_unit.items():
        if len(unit_failures) > allowed:
            return "%s failed %d times (%d allowed), last: %s" % (
                name, len(unit_failures), allowed, unit_failures[-1]["reason"])
    return None


def _failures_note(failures, failing_unit):
    if failing_unit:
        return failing_unit
    count = len(failures)
    return "%d failed task%s so far, last: %s" % (count, "" if count == 1 else "s",
                                                  failures[-1]["reason"])


# ---------------------------------------------------------------- events ---

def _slot(task, mode):
    # A replicated job's slots start at 0, which the API leaves out.
    return (task.get("Slot") or 0) if mode == REPLICATED_JOB else task.get("Slot")


def _task_label(task, mode, names):
    node_id = task.get("NodeID")
    node = names.get(node_id, node_id[:12]) if node_id else None
    slot = _slot(task, mode)
    if mode in PER_NODE_MODES or slot is None:
        return "task on %s" % node if node else "task %s" % (task.get("ID") or "?")[:12]
    return "task %s on %s" % (slot, node) if node else "task %s" % slot


def _down_nodes(nodes):
    """IDs of the nodes the node list shows as not ready: their tasks' states are what the node last reported."""
    return set(node.get("ID") for node in nodes or () if not _node_ready(node))


def _moved_at(progress, previous, now):
    """(the counts that say the rollout moved, when they last changed: now when they just did)."""
    key = [progress[k] for k in ("updated", "running", "healthy", "old_running")]
    if previous and previous.get("progress_key") == key and previous.get("moved_at") is not None:
        return key, previous["moved_at"]
    return key, now


def _stalled(tasks, down, mode, names, ready, moved_at, now):
    """Why the rollout counts as stuck on a lost node, or None: not ready, not moved for
    STALLED_ON_DOWN_NODE_SECONDS, and a task Swarm means to run is on a node that is down."""
    if ready or now - moved_at < STALLED_ON_DOWN_NODE_SECONDS:
        return None
    lost = [t for t in tasks if t.get("NodeID") in down and _state(t) not in TERMINAL_STATES
            and t.get("DesiredState") in ACTIVE_DESIRED_STATES]
    if not lost:
        return None
    return "no progress for %s while a node under it is down (%s): Swarm does not move on without %s" % (
        _seconds(int(now - moved_at)), ", ".join(sorted(_task_label(t, mode, names) for t in lost)),
        "that task" if len(lost) == 1 else "those tasks")


def _task_states(tasks, failures, mode, names, started_at, down=()):
    """A snapshot of this rollout's tasks, to tell what changed at the next poll."""
    reasons = dict((failure["task_id"], failure["reason"]) for failure in failures)
    snapshot = {}
    for task in tasks:
        changed = _changed_at(task)
        if (_state(task) in TERMINAL_STATES and task.get("ID") not in reasons
                and started_at is not None and changed is not None and changed < started_at):
            continue  # history from before this rollout
        snapshot[task.get("ID")] = {
            "label": _task_label(task, mode, names), "state": _state(task),
            "health": task.get("Health"), "err": _status(task).get("Err"),
            "reason": reasons.get(task.get("ID")),
            "node_down": bool(task.get("NodeID")) and task.get("NodeID") in down,
        }
    return snapshot


def _describe(entry):
    if entry["reason"] and entry["state"] != "running":
        return "%s %s: %s" % (entry["label"], entry["state"], entry["reason"])
    if entry.get("node_down") and entry["state"] not in TERMINAL_STATES:
        # What a node that stopped answering last reported: neither healthy nor counted.
        return "%s: %s on a node that is down (not counted)" % (entry["label"], entry["state"])
    detail = entry["health"] if entry["state"] == "running" else entry["err"]
    return "%s: %s%s" % (entry["label"], entry["state"], " (%s)" % detail if detail else "")


def _events(previous, snapshot, update):
    before = (previous or {}).get("task_states") or {}
    events = []
    update_state = update.get("State")
    if update_state and update_state != (previous or {}).get("update_state"):
        events.append("update %s: %s" % (update_state, update.get("Message") or "no message"))
    for task_id, entry in snapshot.items():
        if before.get(task_id) != entry:
            events.append(_describe(entry))
    return events


# --------------------------------------------------------------- verdict ---

def _seconds(value):
    return "%ds" % value if float(value).is_integer() else "%.1fs" % value


def _last_change(tasks, started_at):
    """The newest task state change the manager recorded (or the update's start)."""
    stamps = [stamp for stamp in (_changed_at(task) for task in tasks) if stamp is not None]
    if started_at is not None:
        stamps.append(started_at)
    return max(stamps) if stamps else None


def _stable_since(ready, healthy_tasks, previous, now, last_change=None):
    """When the service last became ready; None while it is not.

    The moment comes from the manager's own task timestamps, so the window
    starts when the last task turned healthy, not when a poll saw it. It is
    kept between the last poll that saw the service not ready and now: a node
    whose clock lags cannot make a window look older than what was seen.
    """
    if not ready:
        return None
    previous = previous or {}
    # The same healthy tasks as last time: nothing dropped in between.
    if previous.get("stable_since") is not None and previous.get("healthy_tasks") == healthy_tasks:
        return previous["stable_since"]
    if last_change is None:
        return now
    return min(now, max(last_change, previous.get("not_ready_at") or last_change))


def _rollback_failures(service, old_tasks, started_at, seen=None):
    """Failed tasks of the spec Swarm rolled back from.

    That spec is PreviousSpec while the rollback runs; Swarm clears it once the
    rollback is done, and then every other task that failed since the rollout
    started was ours.
    """
    template = _template(service.get("PreviousSpec") or {})
    ours = [task for task in old_tasks if not template or task_matches_template(task, template)]
    return _failures(ours, REPLICATED, 0, started_at, seen)


def _rollback_reason(service, update, old_tasks, started_at, seen=None):
    reason = "Swarm rolled the update back (%s: %s)" % (
        update.get("State"), update.get("Message") or "no message")
    failures = _rollback_failures(service, old_tasks, started_at, seen)
    if failures:
        reason += "; the new spec failed: %s" % failures[-1]["reason"]
    return reason


def _stale_version(service, target_version):
    reported = (service.get("Version") or {}).get("Index")
    if target_version is None or reported is None or reported >= target_version:
        return None
    return "waiting for the manager to report service version %d (it reports %d)" % (
        target_version, reported)


def _superseded(service, target_version, target_hash):
    """Why the service's spec is no longer the one this run applied, or None.

    Swarm bumps the version for its own bookkeeping (the update status) and for a rollback
    to PreviousSpec, and this collection's label-only updates keep the hash label right:
    only a newer version whose spec hash is not ours is someone else's spec.
    """
    reported = (service.get("Version") or {}).get("Index")
    if target_hash is None or target_version is None or reported is None or reported <= target_version:
        return None
    if (service.get("UpdateStatus") or {}).get("State") in ROLLBACK_STATES:
        return None  # Swarm's own rollback: the rolled-back rule tells it
    label = _label(service, HASH_LABEL)
    if label == target_hash:
        return None
    return ("superseded: the service's spec was changed by someone else (version %d, spec hash %s), so this run's "
            "rollout cannot be judged" % (reported, (label or "none")[:12]))


def _converged_reason(facts):
    progress = facts["progress"]
    if progress["completed"] is not None:
        return "%d/%d completed" % (progress["completed"], progress["desired"])
    return "%d/%d healthy for %s" % (progress["healthy"], progress["desired"],
                                     _seconds(int(facts["stable_for"])))


def _waiting_reason(facts, monitor_seconds):
    if facts["stable_since"] is not None:
        waiting = "stable for %s of %s" % (_seconds(int(facts["stable_for"])), _seconds(monitor_seconds))
    else:
        waiting = ", ".join(facts["shortfall"])
    if facts["failures"]:
        waiting += "; " + _failures_note(facts["failures"], facts["failing_unit"])
    return waiting


def _swarm_monitor_seconds(service):
    """How long Swarm watches each updated task (update_config.monitor; Swarm's default is 5 s)."""
    monitor = ((_spec(service).get("UpdateConfig") or {}).get("Monitor")) or 0
    return monitor / 1e9 if monitor else 5.0


def _decide(facts, service, fail_mode, target_version, now, monitor_seconds, deadline):
    """(verdict, reason) for one service, before the ignore fail mode applies."""
    stale = _stale_version(service, target_version)
    if stale:
        return PENDING, stale
    if facts["superseded"]:
        return FAILED, facts["superseded"]
    update = service.get("UpdateStatus") or {}
    if update.get("State") in ROLLBACK_STATES:
        return ROLLED_BACK, _rollback_reason(service, update, facts["old"], facts["started_at"], facts["seen"])
    if update.get("State") == PAUSED_STATE:
        return FAILED, "Swarm paused the update: %s" % (update.get("Message") or "no message")
    if fail_mode == FAIL_FAST and facts["failing_unit"]:
        return FAILED, facts["failing_unit"]
    if facts["stable_since"] is not None and (
            facts["progress"]["completed"] is not None or facts["stable_for"] >= monitor_seconds):
        return CONVERGED, _converged_reason(facts)
    if facts["stable_since"] is not None and update.get("State") == "completed" and \
            _swarm_monitor_seconds(service) >= monitor_seconds:
        # Swarm finished the update having watched every new task for its own monitor
        # window, at least as long as ours: that is the stability we wait for.
        return CONVERGED, "Swarm completed the update; " + _converged_reason(facts)
    if facts["stalled"]:
        return FAILED, facts["stalled"]
    if deadline is not None and now >= deadline:
        return FAILED, "not converged within the deadline: " + _waiting_reason(facts, monitor_seconds)
    if facts["stable_since"] is not None:
        return PENDING, _waiting_reason(facts, monitor_seconds)
    return PENDING, "waiting for " + _waiting_reason(facts, monitor_seconds)


# ------------------------------------------------------------ public API ---

def assess_service(service, tasks, target_version, now, started_at, monitor_seconds, deadline,
                   nodes=None, previous=None, target_hash=None):
    """Where one service's rollout stands at ``now``.

    service, tasks, nodes: the API answers (see the module docstring).
    target_version: the service's Version.Index right after our update; an
    older answer is a stale read and stays PENDING. now, started_at, deadline:
    seconds since the epoch. monitor_seconds: how long the service must stay
    converged before it counts. previous: the result of the previous call for
    this service, which carries stability and what events have been told.
    target_hash: the spec hash label this run wrote (None: not checked); a
    newer version with another hash fails as superseded, flagged
    ``"superseded"`` in the result, since that spec is not this run's to judge.

    Raises ValueError when the service's conductor.swarm labels are invalid.
    """
    fail_mode = read_fail_mode(service)
    allowed = read_failures_allowed(service)
    mode = service_mode(service)
    names = _node_names(nodes)
    eligible = eligible_nodes(service, nodes) if nodes is not None and mode in PER_NODE_MODES else None
    new, old = _split_tasks(service, tasks)
    desired = _desired(service, mode, eligible, tasks)
    progress = _progress(service, mode, new, old, _counts_for_progress(mode, nodes, eligible), desired)
    seen = (previous or {}).get("task_states")
    failures = _failures(new, mode, now, started_at, seen)
    shortfall = _shortfall(progress)
    ready = not shortfall and not _stale_version(service, target_version)
    stable_since = _stable_since(ready, progress["healthy_tasks"], previous, now, _last_change(tasks, started_at))
    down = _down_nodes(nodes)
    progress_key, moved_at = _moved_at(progress, previous, now)
    facts = {
        "progress": progress, "shortfall": shortfall, "failures": failures, "old": old,
        "failing_unit": _failing_unit(failures, mode, allowed, names), "started_at": started_at, "seen": seen,
        "stable_since": stable_since, "stable_for": 0 if stable_since is None else now - stable_since,
        "superseded": _superseded(service, target_version, target_hash),
        "stalled": _stalled(tasks, down, mode, names, ready, moved_at, now),
    }
    # Under "ignore", still say what fail-fast would have concluded.
    judged_as = FAIL_FAST if fail_mode == IGNORE else fail_mode
    verdict, reason = _decide(facts, service, judged_as, target_version, now, monitor_seconds, deadline)
    if fail_mode == IGNORE:
        verdict, reason = IGNORED, "fail mode ignore, otherwise %s: %s" % (verdict, reason)
    update = service.get("UpdateStatus") or {}
    if verdict == ROLLED_BACK:
        # The failures behind Swarm's rollback, so their logs can be shown.
        failures = failures + _rollback_failures(service, old, started_at, seen)
    task_states = _task_states(new, failures, mode, names, started_at, down)
    return {
        "name": service_name(service), "verdict": verdict, "reason": reason,
        "mode": mode, "fail_mode": fail_mode,
        "desired": desired, "updated": progress["updated"], "running": progress["running"],
        "healthy": progress["healthy"], "completed": progress["completed"],
        "failures": failures, "events": _events(previous, task_states, update),
        "stable_since": stable_since, "healthy_tasks": progress["healthy_tasks"],
        "not_ready_at": now if stable_since is None else (previous or {}).get("not_ready_at"),
        "task_states": task_states, "update_state": update.get("State"),
        "superseded": bool(facts["superseded"]),
        "progress_key": progress_key, "moved_at": moved_at,
    }


def assess_stack(assessments):
    """One verdict for a stack from its services' assessments.

    FAILED beats ROLLED_BACK beats PENDING beats CONVERGED; IGNORED services
    never hold the stack back.
    """
    assessments = list(assessments)
    by_verdict = {}
    for assessment in assessments:
        by_verdict.setdefault(assessment["verdict"], []).append(assessment)

    def named(verdict, text):
        return "; ".join("%s %s: %s" % (a["name"], text, a["reason"]) for a in by_verdict[verdict])

    if FAILED in by_verdict:
        verdict, reason = FAILED, named(FAILED, "failed")
    elif ROLLED_BACK in by_verdict:
        verdict, reason = ROLLED_BACK, named(ROLLED_BACK, "was rolled back")
    elif PENDING in by_verdict:
        verdict = PENDING
        reason = "waiting for %s" % ", ".join(a["name"] for a in by_verdict[PENDING])
    else:
        verdict = CONVERGED
        tracked = len(by_verdict.get(CONVERGED, ()))
        ignored = len(by_verdict.get(IGNORED, ()))
        reason = "%d service%s converged" % (tracked, "" if tracked == 1 else "s")
        if ignored:
            reason += ", %d ignored" % ignored
    return {"verdict": verdict, "reason": reason, "services": assessments}


def assess_rollback(assessment, deadline, now):
    """While rolling back, a service is done when it is back and healthy on the previous spec."""
    view = dict(assessment)
    back = assessment["update_state"] == "rollback_completed" or assessment["verdict"] == CONVERGED
    healthy = assessment["healthy"] >= assessment["desired"]
    if back and healthy:
        view["verdict"], view["reason"] = CONVERGED, "back on the previous spec"
    elif now >= deadline:
        view["verdict"] = FAILED
        view["reason"] = "rollback did not complete in time: %s" % assessment["reason"]
    else:
        view["verdict"], view["reason"] = PENDING, "rolling back: %s" % assessment["reason"]
    return view


def progress_line(assessment):
    """One compact line: counts, then the verdict and its reason."""
    desired = assessment["desired"]
    if assessment.get("completed") is not None:
        counts = "%d/%d completed, %d/%d running" % (assessment["completed"], desired,
                                                     assessment["running"], desired)
    else:
        counts = ", ".join("%d/%d %s" % (assessment[key], desired, key)
                           for key in ("updated", "running", "healthy"))
    return "%s: %s (%s: %s)" % (assessment["name"], counts, assessment["verdict"], assessment["reason"])


def annotate_health(tasks):
    """Give each task the Health key assess_service reads, from the task state alone.

    Swarm keeps a task whose container has a healthcheck in state "starting"
    until the check passes (moby PR #24545), and fails the task when it turns
    unhealthy, so a manager can judge health without asking every node.
    """
    for task in tasks:
        state = _state(task)
        task["Health"] = "healthy" if state == "running" else "starting" if state == "starting" else None
    return tasks
