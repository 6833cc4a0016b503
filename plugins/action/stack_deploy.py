# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""stack_deploy, controller side: read the Compose files here, apply on the
manager, then track the rollout by polling the manager, showing progress, and
roll the whole stack back when a service fails."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import os
import time

import yaml

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.conductor.swarm.plugins.modules.stack_deploy import argument_spec
from ansible_collections.conductor.swarm.plugins.module_utils.rollout_state import (
    CONVERGED,
    FAILED,
    PENDING,
    ROLLED_BACK,
    assess_service,
    assess_stack,
    parse_timestamp,
    progress_line,
)

display = Display()

# Options the action plugin consumes itself; the rest go to the module.
TRACKING_OPTIONS = ("wait", "deadline", "service_deadline", "monitor", "rollback", "poll_interval", "log_lines")
CONNECTION_OPTIONS = ("docker_host", "tls", "validate_certs", "cert_path", "ca_path", "client_cert",
                      "client_key", "api_version", "timeout")


def summary(rollout):
    """A tracked rollout as the task returns it: without the per-service assessments of its last poll."""
    return dict((k, v) for k, v in rollout.items() if k != "assessments")


def referenced_paths(documents):
    """Files a Compose document reads besides itself: env files, config and secret files."""
    paths = []
    for doc in documents:
        for service in (doc.get("services") or {}).values():
            env_file = (service or {}).get("env_file")
            if isinstance(env_file, str):
                paths.append(env_file)
            elif isinstance(env_file, list):
                paths.extend(e if isinstance(e, str) else e.get("path") for e in env_file)
        for kind in ("configs", "secrets"):
            for obj in (doc.get(kind) or {}).values():
                if isinstance(obj, dict) and obj.get("file"):
                    paths.append(obj["file"])
    return [p for p in paths if p]


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        self.task_vars = task_vars or {}
        # The module's own spec, checked here: bad input stops before the manager is asked anything.
        _validation, args = self.validate_argument_spec(argument_spec=argument_spec(),
                                                        required_one_of=[("compose", "compose_files")])
        tracking = dict((key, args[key]) for key in TRACKING_OPTIONS)
        # Connection options the task did not set stay unset: their DOCKER_* fallbacks are
        # the manager's environment, not this controller's.
        given = set(self._task.args)
        module_args = dict((k, v) for k, v in args.items()
                           if k != "compose_files" and (k not in CONNECTION_OPTIONS or k in given))
        documents, files = self.read_compose(args)
        module_args["compose"] = documents + list(args.get("compose") or [])
        module_args["files"] = dict(list(files.items()) + list((args.get("files") or {}).items()))
        self.connection_args = dict((k, args[k]) for k in CONNECTION_OPTIONS if k in given)
        self.log_lines = args["log_lines"]
        self.stack = args.get("name")

        applied = self._execute_module("conductor.swarm.stack_deploy", module_args=module_args,
                                       task_vars=self.task_vars)
        result.update(applied)
        if args["phase"] == "cleanup" or applied.get("failed") or self._task.check_mode or not tracking["wait"] \
                or not applied.get("changed"):
            return result
        changed = dict((name, svc) for name, svc in applied["services"].items()
                       if svc["action"] in ("create", "update"))
        if not changed:
            return result
        rollout = self.track(changed, tracking, started_at=applied.get("started_at"))
        if rollout["verdict"] == CONVERGED:
            result["rollout"] = summary(rollout)
            cleanup = self._execute_module("conductor.swarm.stack_deploy",
                                           module_args=dict(module_args, phase="cleanup"), task_vars=self.task_vars)
            if cleanup.get("failed"):
                # The rollout is done and healthy; old versions merely stay until the next deploy.
                result.setdefault("warnings", []).append(
                    "stack %s converged, but removing unused config and secret versions failed: %s"
                    % (self.stack, cleanup.get("msg")))
            else:
                result["removed"]["configs"] = cleanup["removed"]["configs"]
                result["removed"]["secrets"] = cleanup["removed"]["secrets"]
            return result
        return self.fail_and_roll_back(result, changed, rollout, tracking)

    # --- reading the files on the controller --------------------------------

    def read_compose(self, args):
        paths = args.get("compose_files") or []
        documents, files = [], {}
        base = None
        for given in paths:
            # As typed on the command line first, then where Ansible looks for files.
            path = os.path.abspath(given) if os.path.isfile(given) else self._find_needle("files", given)
            base = base or os.path.dirname(path)
            with open(path, "rb") as f:
                try:
                    doc = yaml.safe_load(f)
                except yaml.YAMLError as exc:
                    raise AnsibleActionFail("%s is not valid YAML, nothing was changed: %s" % (given, exc))
            if not isinstance(doc, dict):
                raise AnsibleActionFail("%s is not a Compose file (no mapping at the top), nothing was changed" % given)
            documents.append(doc)
        for ref in referenced_paths(documents):
            full = ref if os.path.isabs(ref) else os.path.join(base or ".", ref)
            if not os.path.isfile(full):
                raise AnsibleActionFail("%s, referenced by the Compose files, does not exist (looked at %s); "
                                        "nothing was changed" % (ref, full))
            with open(full, "rb") as f:
                files[ref] = base64.b64encode(f.read()).decode("ascii")
        return documents, files

    # --- tracking ---------------------------------------------------------------

    def poll(self, services, logs_for=()):
        args = dict(self.connection_args, name=self.stack, services=list(services), raw=True,
                    logs_for=list(logs_for), log_lines=self.log_lines)
        info = self._execute_module("conductor.swarm.stack_info", module_args=args, task_vars=self.task_vars)
        if info.get("failed"):
            raise AnsibleActionFail("lost track of the rollout: %s" % info.get("msg"))
        return info

    def track(self, targets, tracking, rolling_back=False, started_at=None):
        """Poll until every target service converged, one failed, or the deadline passed.

        targets: {name: {"version": spec version to reach}}.
        """
        start = time.time()
        previous = {}
        printed = {}
        manager_start = None
        verdicts = {}
        while True:
            info = self.poll(targets)
            now = info["now"]
            manager_start = manager_start or now
            raw = info["raw"]
            tasks_by_service = {}
            for task in raw["tasks"]:
                tasks_by_service.setdefault(task["ServiceID"], []).append(task)
            assessments = []
            for service in raw["services"]:
                name = service["Spec"]["Name"]
                deadline = manager_start + min(tracking["deadline"], tracking["service_deadline"])
                started = started_at or parse_timestamp(service.get("UpdatedAt")) or manager_start
                assessment = assess_service(
                    service, tasks_by_service.get(service["ID"], []), targets[name]["version"], now, started,
                    tracking["monitor"], deadline, nodes=raw["nodes"], previous=previous.get(name))
                if rolling_back:
                    assessment = self.rollback_view(assessment, deadline, now)
                previous[name] = assessment
                assessments.append(assessment)
                self.show(assessment, printed, rolling_back)
            missing = set(targets) - set(previous)
            stack = assess_stack(assessments)
            if missing:
                stack = {"verdict": FAILED, "reason": "service(s) %s disappeared" % ", ".join(sorted(missing))}
            verdicts = dict((a["name"], a["verdict"]) for a in assessments)
            if stack["verdict"] != PENDING:
                prefix = "rollback of " if rolling_back else ""
                display.display("  %sstack %s: %s after %.1fs" % (prefix, self.stack, stack["verdict"], time.time() - start))
                return {"verdict": stack["verdict"], "reason": stack["reason"], "services": verdicts,
                        "seconds": round(time.time() - start, 1), "assessments": assessments}
            if now - manager_start > tracking["deadline"] + tracking["monitor"] + 30:
                # A guard for a clock that stopped moving; assess_service owns the real deadlines.
                return {"verdict": FAILED, "reason": "no verdict within the deadline", "services": verdicts,
                        "seconds": round(time.time() - start, 1), "assessments": assessments}
            time.sleep(tracking["poll_interval"])

    @staticmethod
    def rollback_view(assessment, deadline, now):
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

    def show(self, assessment, printed, rolling_back):
        name = assessment["name"]
        prefix = "rollback " if rolling_back else ""
        for event in assessment.get("events") or []:
            display.display("  %s%s: %s" % (prefix, name, event))
        line = prefix + progress_line(assessment)
        # Once converged, say so once: the growing "healthy for Ns" is no news.
        settled = assessment["verdict"] == CONVERGED and printed.get(name, "").find("(converged") >= 0
        if printed.get(name) != line and not settled:
            display.display("  " + line)
            printed[name] = line

    # --- failure ----------------------------------------------------------------

    def fail_and_roll_back(self, result, changed, rollout, tracking):
        failing = [a for a in rollout["assessments"] if a["verdict"] in (FAILED, ROLLED_BACK)]
        task_ids = []
        for assessment in failing:
            task_ids.extend(f["task_id"] for f in assessment["failures"][-2:])
        logs = {}
        lines = []
        if not failing:  # the stack failed as a whole: a service disappeared, or no verdict in time
            lines.append("stack %s: %s" % (self.stack, rollout["reason"]))
        if task_ids:
            # Logs are a courtesy: failing to fetch them must not stop the rollback.
            try:
                logs = self.poll(changed, logs_for=task_ids)["logs"]
            except AnsibleActionFail as exc:
                lines.append("(logs of the failed tasks are unavailable: %s)" % exc)
        for assessment in failing:
            lines.append("%s %s: %s" % (assessment["name"], assessment["verdict"].replace("_", " "),
                                        assessment["reason"]))
            for failure in assessment["failures"][-2:]:
                tail = [line for line in logs.get(failure["task_id"], []) if line][-tracking["log_lines"]:]
                if tail:
                    lines.append("  last log lines of task %s (%s):" % (failure["task_id"][:12], failure["reason"]))
                    lines.extend("    " + line for line in tail)
        result["failed"] = True
        result["rollout"] = dict(summary(rollout), logs=logs)
        for line in lines:
            display.display("  " + line)
        if not tracking["rollback"]:
            result["msg"] = "deploy of stack %s failed; rollback is off, so the stack is left as it is. %s" % (
                self.stack, " | ".join(lines))
            return result
        display.display("  rolling back stack %s to the previous version" % self.stack)
        undo = self._execute_module("conductor.swarm.stack_rollback", module_args=dict(
            self.connection_args, name=self.stack, services=sorted(n for n, s in changed.items() if s["action"] == "update"),
            expected_hashes=dict((n, s["spec_hash"]) for n, s in changed.items()),
            remove=sorted(n for n, s in changed.items() if s["action"] == "create")), task_vars=self.task_vars)
        result["rollback"] = undo
        if undo.get("failed"):
            result["msg"] = "deploy of stack %s failed, and so did its rollback (%s). %s" % (
                self.stack, undo.get("msg"), " | ".join(lines))
            return result
        back = dict((n, {"version": v}) for n, v in undo["rolled_back"].items())
        not_back = []
        for name, reason in undo["skipped"].items():
            if reason == "already rolled back by Swarm":
                back[name] = {"version": 0}
            else:
                not_back.append("%s (%s)" % (name, reason))
        if back:
            tracked = self.track(back, tracking, rolling_back=True)
            result["rollback"]["rollout"] = summary(tracked)
            if tracked["verdict"] != CONVERGED:
                result["msg"] = ("deploy of stack %s failed and the rollback did not converge (%s): the stack may be "
                                 "serving a mix of versions. %s" % (self.stack, tracked["reason"], " | ".join(lines)))
                return result
        restored = ", ".join(sorted(list(back) + undo["removed"]))
        if not_back:
            result["msg"] = ("deploy of stack %s failed; rolled back %s, but could not roll back %s. %s" % (
                self.stack, restored or "nothing", ", ".join(sorted(not_back)), " | ".join(lines)))
            return result
        result["msg"] = ("deploy of stack %s failed and was rolled back: the stack is back on the previous version "
                         "(%s). %s" % (self.stack, restored or "no service", " | ".join(lines)))
        return result
