# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""stack_deploy, controller side: read the Compose files here, apply on the
manager, then track the rollout by polling the manager, showing progress, and
roll the whole stack back when a service fails."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import getpass
import os
import socket
import time
import uuid

import yaml

from ansible.errors import AnsibleActionFail, AnsibleConnectionFailure
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.conductor.swarm.plugins.modules.stack_deploy import argument_spec
from ansible_collections.conductor.swarm.plugins.module_utils.compose.api import stack_name_refusal
from ansible_collections.conductor.swarm.plugins.module_utils.rollout.cluster import Cluster, ClusterError, SystemClock
from ansible_collections.conductor.swarm.plugins.module_utils.rollout.lease import Lease
from ansible_collections.conductor.swarm.plugins.module_utils.rollout.owner import Rollout
from ansible_collections.conductor.swarm.plugins.module_utils.rollout.proxy import Proxy, ProxyError
from ansible_collections.conductor.swarm.plugins.module_utils.strategies.options import StrategyError
from ansible_collections.conductor.swarm.plugins.module_utils.stack_lock import owner_of_this_run
from ansible_collections.conductor.swarm.plugins.module_utils.strategies.registry import STRATEGIES

display = Display()

# Options the action plugin consumes itself; the rest go to the module.
TRACKING_OPTIONS = ("wait", "deadline", "service_deadline", "monitor", "rollback", "poll_interval", "log_lines")
LOCK_MODULE = "conductor.swarm.stack_lock"
CONNECTION_OPTIONS = ("docker_host", "tls", "validate_certs", "cert_path", "ca_path", "client_cert",
                      "client_key", "api_version", "timeout", "insecure_tcp")


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


class ModuleCluster(Cluster):
    """The swarm, as the collection's modules on the manager see it."""

    def __init__(self, action, module_args, connection_args, stack, log_lines, poll_interval):
        self.action = action
        self.poll_interval = poll_interval
        self.module_args = module_args
        self.connection_args = connection_args
        self.stack = stack
        self.log_lines = log_lines
        self.lease = None

    def run(self, module, args):
        if self.lease is not None and module != LOCK_MODULE:
            self.lease.renew_if_due()
        return self.action._execute_module(module, module_args=args, task_vars=self.action.task_vars)

    def run_or_raise(self, module, args):
        """A module the rollout cannot go on without: its failure, or a manager out of reach, is a ClusterError
        (which the tracker retries for a while)."""
        try:
            result = self.run(module, args)
        except AnsibleConnectionFailure as exc:
            raise ClusterError("cannot reach the manager: %s" % exc)
        if result.get("failed") or result.get("unreachable"):
            raise ClusterError(result.get("msg"))
        return result

    def apply(self, **overrides):
        return self.run("conductor.swarm.stack_deploy", dict(self.module_args, **overrides))

    def poll(self, services, logs_for=(), until_changed=None, max_wait=0):
        args = dict(self.connection_args, name=self.stack, services=list(services), raw=True,
                    logs_for=list(logs_for), log_lines=self.log_lines)
        if until_changed:
            args.update(until_changed=until_changed, max_wait=max_wait, poll_interval=self.poll_interval)
        return self.run_or_raise("conductor.swarm.stack_info", args)

    def roll_back(self, services, expected_hashes, remove, remove_objects=()):
        return self.run("conductor.swarm.stack_rollback", dict(
            self.connection_args, name=self.stack, services=services, expected_hashes=expected_hashes, remove=remove,
            remove_objects=list(remove_objects)))

    def scale(self, service, replicas):
        return self.run_or_raise("conductor.swarm.stack_variant", dict(
            self.connection_args, name=self.stack, service=service, replicas=replicas))

    def cleanup(self):
        return self.apply(phase="cleanup")

    def lock(self, state, run_id, owner, ttl):
        return self.run(LOCK_MODULE, dict(self.connection_args, name=self.stack, state=state, run_id=run_id,
                                          owner=owner, ttl=ttl))


class ModuleProxy(Proxy):
    """The edge proxy, through the collection's edge modules on the manager."""

    def __init__(self, cluster, edge_service):
        self.cluster = cluster
        self.edge_service = edge_service
        # The proxy counts requests by its own clock: `since` is moved by what the manager's differs.
        self.offset = 0.0

    def run(self, module, **args):
        result = self.cluster.run(module, dict(self.cluster.connection_args, edge_service=self.edge_service, **args))
        if result.get("failed"):
            raise ProxyError(result.get("msg"))
        return result

    def route(self, route, green, preview=None):
        args = dict(route=route, green=green)
        if preview:
            args["preview"] = preview
        return self.run("conductor.swarm.edge_route", **args)

    def metrics(self, route, since):
        asked = time.time()
        info = self.run("conductor.swarm.edge_route_info", route=route, since=since + self.offset)
        self.offset = info["now"] - (asked + time.time()) / 2
        return info["metrics"]

    def probe(self, route, path, variant, timeout):
        answer = self.run("conductor.swarm.edge_probe", route=route, path=path, variant=variant, timeout=timeout)
        return answer["status"], answer["body"]


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        self.task_vars = task_vars or {}
        # The module's own spec, checked here: bad input stops before the manager is asked anything.
        _validation, args = self.validate_argument_spec(argument_spec=argument_spec(),
                                                        required_one_of=[("compose", "compose_files")])
        refused = stack_name_refusal(args["name"])
        if refused:
            raise AnsibleActionFail(refused + "; nothing was changed")
        tracking = dict((key, args[key]) for key in TRACKING_OPTIONS)
        # Connection options the task did not set stay unset: their DOCKER_* fallbacks are
        # the manager's environment, not this controller's.
        given = set(self._task.args)
        module_args = dict((k, v) for k, v in args.items()
                           if k != "compose_files" and (k not in CONNECTION_OPTIONS or k in given))
        documents, files, base = self.read_compose(args)
        module_args["compose"] = documents + list(args.get("compose") or [])
        if not args.get("working_dir") and base:
            # Where docker stack deploy, run here, would resolve relative bind-mount sources.
            module_args["working_dir"] = base
        module_args["files"] = dict(list(files.items()) + list((args.get("files") or {}).items()))
        cluster = ModuleCluster(self, module_args, dict((k, args[k]) for k in CONNECTION_OPTIONS if k in given),
                                args.get("name"), args["log_lines"], args["poll_interval"])
        if args["phase"] == "cleanup":
            result.update(cluster.apply())
            return result
        try:
            STRATEGIES[args["strategy"]].validate(args["strategy_options"])
        except StrategyError as exc:
            raise AnsibleActionFail("the strategy was rejected, nothing was changed: %s" % exc)
        if args["lock"]:
            owner = owner_of_this_run(os.environ, getpass.getuser(), socket.gethostname(), os.getpid())
            cluster.lease = Lease(cluster, uuid.uuid4().hex, owner, args["lock_wait"], args["lock_break"],
                                  display.display, SystemClock())
        rollout = Rollout(cluster, args.get("name"), tracking, display.display, SystemClock(),
                          check_mode=self._task.check_mode, proxy=ModuleProxy(cluster, args["edge_service"]),
                          lease=cluster.lease)
        result.update(rollout.run())
        return result

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
        return documents, files, base
