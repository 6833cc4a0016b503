#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: stack_deploy
short_description: Deploy a stack from Compose files and track the rollout until it is healthy or rolled back
version_added: 0.1.0
description:
  - Deploys a stack onto a swarm from one or more Compose files (format 3.x, as C(docker stack deploy) reads them),
    creating the same services, networks, configs and secrets C(docker stack deploy) would, with the same names and labels.
  - Runs on a swarm manager (use C(delegate_to) or target a manager). The action plugin of the same name reads the Compose files
    and the files they reference on the controller, then, after the change, polls the manager and shows progress per
    service until every changed service has converged, or fails, in which case the whole stack is rolled back.
  - Configs and secrets are named by a hash of their content, so a changed config or secret rolls out like a new image.
  - Images are resolved to the digest the registry serves, so every node runs the same image.
  - Only services whose spec changed are updated; an unchanged redeploy sends no update to Swarm.
  - A service edited by hand since the last deploy is reported as drift, and put back to the files' spec.
author:
  - conductor.swarm developers (@conductor-swarm)
extends_documentation_fragment:
  - conductor.swarm.docker
attributes:
  check_mode:
    support: full
    description: Reports which services, networks, configs and secrets would change, and changes nothing.
  diff_mode:
    support: full
    description: Shows, per service, the spec fields that change, and drift from hand edits.
  idempotent:
    support: full
    description: Redeploying unchanged files reports no change and triggers no service update.
  action:
    support: full
    description: The action plugin reads files on the controller, tracks the rollout and rolls back.
options:
  name:
    description: Stack name; prefixes every object, as with C(docker stack deploy).
    type: str
    required: true
  compose_files:
    description:
      - Compose files on the controller, later ones overriding earlier ones.
      - Relative paths in them (C(env_file), C(file) of configs and secrets) are relative to the first file's directory.
    type: list
    elements: path
  compose:
    description:
      - Compose documents given inline, instead of or after O(compose_files).
    type: list
    elements: dict
  working_dir:
    description:
      - Absolute directory that relative bind-mount sources (C(./data:/data), C(.:/code)) are resolved against, as
        C(docker stack deploy) resolves them against the directory of the first Compose file.
      - Unset, the action plugin sets the directory of the first of O(compose_files) on the controller, which is
        what the CLI run there would use; the bind source must then exist at that path on the nodes the tasks run
        on. Set it when the files sit elsewhere on the nodes, and with O(compose) documents only.
      - Without it, a relative bind-mount source is refused before any change.
    type: path
  files:
    description:
      - Internal, filled by the action plugin. A task sets it only with O(compose) documents that reference
        files, in the same form.
      - The module runs on the manager, which cannot read the controller's files. So the action plugin reads the
        files the Compose documents of O(compose_files) reference (env files, config and secret files) and hands
        them over here, base64-encoded and keyed by the path as written. Never printed.
    type: dict
  variables:
    description: Variables for C(${VAR}) interpolation in the Compose files.
    type: dict
    default: {}
  prune:
    description: Remove services of the stack that the files no longer define.
    type: bool
    default: false
  resolve_image:
    description: Pin each image to the digest its registry serves (V(always)), or use the reference as written (V(never)).
    type: str
    choices: [always, never]
    default: always
  with_registry_auth:
    description: Send O(registry_auth) to the swarm so nodes can pull from a registry that needs credentials.
    type: bool
    default: false
  registry_auth:
    description: Registry credentials used to resolve digests and, with O(with_registry_auth), by the nodes.
    type: dict
    suboptions:
      username:
        description: Registry user.
        type: str
        required: true
      password:
        description: Registry password or token.
        type: str
        required: true
      serveraddress:
        description: Registry address, such as C(registry.example.com:5000).
        type: str
        required: true
  keep_versions:
    description: Config and secret versions to keep per name after a successful rollout (unused ones beyond are removed).
    type: int
    default: 3
  wait:
    description: Track the rollout until every changed service has converged (action plugin).
    type: bool
    default: true
  deadline:
    description:
      - Seconds the whole run may take, from the manager's clock just before the change, the rollback included.
      - A rollback that starts with less than 60 seconds left still gets 60 (O(service_deadline) permitting).
    type: int
    default: 600
  service_deadline:
    description: Seconds each service has to converge, from the first look after the change (and again in a rollback).
    type: int
    default: 300
  monitor:
    description: Seconds a service must stay converged before it counts.
    type: int
    default: 5
  rollback:
    description: When a service fails, roll the whole stack back to the previous specs and track that rollback.
    type: bool
    default: true
  poll_interval:
    description:
      - Seconds between two reads of the swarm while tracking. The reads happen on the manager, which answers the
        controller only when something changed (see docs/rollout-tracking.md).
    type: float
    default: 0.5
  log_lines:
    description: Lines of logs shown per failing task.
    type: int
    default: 20
  phase:
    description:
      - Internal, set by the action plugin; a task leaves it at V(apply), which deploys.
      - Only once the rollout has converged is it known which config and secret versions the services no longer
        use, so the action plugin then runs the module a second time with V(cleanup), which only removes those
        beyond O(keep_versions).
    type: str
    choices: [apply, cleanup]
    default: apply
  strategy:
    description:
      - How changed services roll out. V(rolling) is Swarm's update as C(deploy.update_config) says, with
        C(failure_action=rollback) and, for a service with a healthcheck and no host-mode port, C(order=start-first)
        where the file leaves them out. V(recreate) stops every task of a changed service, then starts the new
        version (downtime expected).
      - V(blue-green) and V(canary) switch traffic through the edge proxy (role C(conductor.swarm.edge_proxy)); without
        it, or without a service that has a route (C(conductor.swarm.route.*) labels), they are refused before any
        change. Services without a route roll out in place.
      - A service's C(conductor.swarm.strategy) label (Compose C(deploy.labels)) overrides this for that service.
    type: str
    choices: [blue-green, canary, recreate, rolling]
    default: rolling
  strategy_options:
    description:
      - Options of the chosen strategy; unknown keys and bad values are refused before any change.
      - V(rolling) and V(recreate) take C(drain_seconds) (default 2), the drain the warnings compare
        C(stop_grace_period) with.
    type: dict
    default: {}
  edge_service:
    description: The edge proxy's Swarm service, whose routing state blue-green and canary read and switch.
    type: str
    default: edge_proxy
  lock:
    description:
      - Hold the stack's lock for the whole run, so two deploys of one stack (two controllers, two AWX jobs) never
        interleave. The lock is the swarm config C(conductor-lock-<name>); see M(conductor.swarm.stack_lock).
      - It is renewed while the run talks to the swarm, so a run that dies leaves a lock that expires within
        10 minutes.
      - In check mode nothing is taken; a lock held by another run is reported.
    type: bool
    default: true
  lock_wait:
    description: Seconds to wait for another run's lock, with a progress line; past that, or at once with V(0), the
      task fails before any change, naming the run that holds it.
    type: int
    default: 0
  lock_break:
    description: Take the lock even when another run holds it, for a holder known to be gone (a killed run, a lost
      controller). The lock it broke is printed.
    type: bool
    default: false
  lock_run:
    description:
      - Set by the action plugin, not by a task; the apply takes the stack's lock in the same call as its change,
        as this run (C(run_id), C(owner)) for C(ttl) seconds, and gives it back in that call when nothing follows.
    type: dict
    suboptions:
      run_id:
        description: This run's identity (a UUID the controller makes once per run).
        type: str
        required: true
      owner:
        description: Who this run is, as the holder is shown to others (an AWX job, or user@host and pid).
        type: str
        required: true
      ttl:
        description: Seconds the lock holds without a renewal.
        type: int
        required: true
notes:
  - The rollout is tracked against these labels on services, read as Compose C(deploy.labels)
    C(conductor.swarm.fail-mode) (V(fail-fast), V(wait), V(ignore)) and
    C(conductor.swarm.failures-allowed-per-replica) (default V(2)).
"""

EXAMPLES = r"""
- name: Deploy the shop stack and wait until it is healthy
  conductor.swarm.stack_deploy:
    name: shop
    compose_files:
      - files/shop.yml
      - files/shop.prod.yml
    variables:
      WEB_VERSION: "2.1.0"
  delegate_to: "{{ groups['managers'][0] }}"
  run_once: true

- name: Show what would change, without changing it
  conductor.swarm.stack_deploy:
    name: shop
    compose_files: [files/shop.yml]
  check_mode: true
  diff: true
  delegate_to: "{{ groups['managers'][0] }}"
  run_once: true
"""

RETURN = r"""
services:
  description:
    - Per service (full name), what was done and the spec version it is on.
    - C(update_state) is Swarm's state of the service's last update as found before the change (V(updating),
      V(completed), V(paused), ...; null when it was never updated).
  returned: always
  type: dict
  sample: {"shop_web": {"action": "update", "id": "k2x...", "version": 42, "image": "reg:5000/app:2@sha256:ab...",
                        "changes": ["TaskTemplate.ContainerSpec.Image"], "drift": [], "spec_hash": "9f1c...",
                        "update_state": "completed"}}
created:
  description: Networks, configs and secrets created.
  returned: always
  type: dict
  sample: {"networks": ["shop_backend"], "configs": ["shop_app_conf_1a2b3c4d5e"], "secrets": []}
removed:
  description: Services (with O(prune)) and config or secret versions removed.
  returned: always
  type: dict
  sample: {"services": [], "configs": ["shop_app_conf_0f9e8d7c6b"], "secrets": []}
drift:
  description: Services edited by hand since the last deploy, with the spec fields that differ.
  returned: always
  type: dict
  sample: {"shop_web": ["Mode.Replicated.Replicas"]}
strategy:
  description: The deploy's strategy, what each strategy in use does (and for which services), and why a plan
    cannot be zero-downtime, if it cannot (also shown as warnings before any change).
  returned: always
  type: dict
  sample: {"name": "rolling", "warnings": [],
           "plan": {"rolling": {"services": ["shop_web"], "steps": ["update each changed service in place ..."]}}}
started_at:
  description: The manager's clock (seconds since the epoch) just before the swarm was changed.
  returned: when the swarm was changed
  type: float
rollout:
  description: How the tracked rollout ended (action plugin); absent in check mode or with O(wait=false).
  returned: when changed and O(wait=true)
  type: dict
  contains:
    verdict:
      description: V(converged), V(failed) or V(rolled_back) (Swarm rolled the update back itself).
      type: str
    reason:
      description: Why, in one line, such as V(2 services converged) or the first failing service's reason.
      type: str
    services:
      description: The verdict of each tracked service.
      type: dict
    seconds:
      description: Wall time of the tracking.
      type: float
    logs:
      description: Last log lines of the failed tasks, by task ID (at most O(log_lines) each).
      type: dict
      returned: when the rollout failed
  sample: {"verdict": "converged", "reason": "1 service converged", "seconds": 21.4,
           "services": {"shop_web": "converged"}}
rollback:
  description:
    - The whole-stack rollback after a failed rollout (O(rollback=true)), as M(conductor.swarm.stack_rollback)
      returns it, with its own tracked C(rollout).
  returned: when the rollout failed and O(rollback=true)
  type: dict
  sample: {"changed": true, "rolled_back": {"shop_web": 57}, "removed": [], "skipped": {},
           "rollout": {"verdict": "converged", "reason": "1 service converged", "seconds": 5.3,
                       "services": {"shop_web": "converged"}}}
warnings:
  description: What the Compose files use that Swarm ignores, and unset variables.
  returned: always
  type: list
  elements: str
resumed:
  description: Services the files left unchanged whose update Swarm was still rolling out (an earlier run's, killed
    or cut off), tracked by this run to their end.
  returned: when there were any
  type: list
  elements: str
lock_holder:
  description: The run that holds the stack's lock (O(lock)), when it stopped this run before any change.
  returned: when another run held the lock past O(lock_wait)
  type: dict
  sample: {"owner": "AWX job 41 (awx@tower)", "run": "3f2a9c0e", "acquired_at": 1764669731, "expires_at": 1764670331}
"""

import base64

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.conductor.swarm.plugins.module_utils.stack_manager import StackManager
from ansible_collections.conductor.swarm.plugins.module_utils.docker_client import docker_argument_spec
from ansible_collections.conductor.swarm.plugins.module_utils.strategies.registry import NAMES as STRATEGY_NAMES


def argument_spec():
    return docker_argument_spec(
        name=dict(type="str", required=True),
        compose_files=dict(type="list", elements="path"),
        compose=dict(type="list", elements="dict"),
        working_dir=dict(type="path"),
        files=dict(type="dict", no_log=True),
        variables=dict(type="dict", default={}),
        prune=dict(type="bool", default=False),
        resolve_image=dict(type="str", choices=["always", "never"], default="always"),
        with_registry_auth=dict(type="bool", default=False),
        registry_auth=dict(type="dict", no_log=False, options=dict(
            username=dict(type="str", required=True),
            password=dict(type="str", required=True, no_log=True),
            serveraddress=dict(type="str", required=True),
        )),
        keep_versions=dict(type="int", default=3),
        wait=dict(type="bool", default=True),
        deadline=dict(type="int", default=600),
        service_deadline=dict(type="int", default=300),
        monitor=dict(type="int", default=5),
        rollback=dict(type="bool", default=True),
        poll_interval=dict(type="float", default=0.5),
        log_lines=dict(type="int", default=20),
        phase=dict(type="str", choices=["apply", "cleanup"], default="apply"),
        strategy=dict(type="str", choices=list(STRATEGY_NAMES), default="rolling"),
        strategy_options=dict(type="dict", default={}),
        edge_service=dict(type="str", default="edge_proxy"),
        lock=dict(type="bool", default=True),
        lock_wait=dict(type="int", default=0),
        lock_break=dict(type="bool", default=False),
        lock_run=dict(type="dict", options=dict(
            run_id=dict(type="str", required=True),
            owner=dict(type="str", required=True),
            ttl=dict(type="int", required=True),
        )),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_one_of=[("compose", "compose_files")])
    files = dict((path, base64.b64decode(data)) for path, data in (module.params["files"] or {}).items())
    StackManager(module, files).run()


if __name__ == "__main__":
    main()
