#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: stack_info
short_description: Real status of a stack's services, per service
version_added: 0.1.0
description:
  - Reads a stack from a swarm manager and returns, per service, its mode, image, desired, running and healthy tasks,
    the state of its last update and the last task error.
  - A task whose container has a healthcheck counts as healthy once Swarm reports it running (Swarm holds it in
    C(starting) until the check passes).
  - Can also return the last lines of logs of given tasks, and the raw API answers the rollout tracker reads.
author:
  - conductor.swarm developers (@conductor-swarm)
extends_documentation_fragment:
  - conductor.swarm.docker
attributes:
  check_mode:
    support: full
    description: Only reads.
  diff_mode:
    support: none
    description: Only reads.
  idempotent:
    support: full
    description: Only reads.
options:
  name:
    description: Stack name.
    type: str
    required: true
  services:
    description: Full service names to report on; all services of the stack when omitted.
    type: list
    elements: str
  logs_for:
    description: Task IDs whose last log lines to return.
    type: list
    elements: str
    default: []
  log_lines:
    description: Log lines per task in O(logs_for).
    type: int
    default: 20
  until_changed:
    description:
      - A RV(fingerprint) of an earlier answer. The module reads the stack again every O(poll_interval) seconds,
        on the manager, and answers once what it reads differs from it, or once O(max_wait) seconds have passed.
      - This is how the rollout tracker follows a rollout with one round trip per change instead of one per look.
    type: str
  max_wait:
    description: With O(until_changed), the longest the module waits for a change, in seconds.
    type: float
    default: 0
  poll_interval:
    description: With O(until_changed), seconds between two reads of the swarm.
    type: float
    default: 0.5
  raw:
    description:
      - Also return the services, tasks and nodes as the Docker API gives them, each task cut down to what the
        rollout tracker reads (state, node, slot, version, a digest of its spec and its image).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Read the shop stack's status
  conductor.swarm.stack_info:
    name: shop
  register: shop
  delegate_to: "{{ groups['managers'][0] }}"
  run_once: true

- name: Every service is healthy
  ansible.builtin.assert:
    that: item.healthy == item.desired
  loop: "{{ shop.services }}"
"""

RETURN = r"""
services:
  description: One entry per service.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "shop_web", "id": "k2x...", "mode": "replicated", "image": "reg:5000/app:2@sha256:ab...",
            "version": 42, "desired": 3, "running": 3, "healthy": 3, "update_state": "completed",
            "update_message": "update completed", "last_error": null}]
now:
  description: The manager's clock, seconds since the epoch (task timestamps use it).
  returned: always
  type: float
logs:
  description: Last log lines per task of O(logs_for).
  returned: always
  type: dict
fingerprint:
  description: A short digest of the services, tasks and nodes read, to pass as O(until_changed) next time.
  returned: always
  type: str
raw:
  description:
    - Services and nodes as the Docker API returns them; tasks with the keys the tracker reads, a C(SpecDigest)
      in place of most of their spec, and a C(Health) key.
  returned: when O(raw=true)
  type: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.conductor.swarm.plugins.module_utils.docker_client import (
    DockerException,
    RequestException,
    SwarmClient,
    docker_argument_spec,
)
from ansible_collections.conductor.swarm.plugins.module_utils.rollout.long_poll import read_stack, wait_for_change
from ansible_collections.conductor.swarm.plugins.module_utils.rollout_state import assess_service


def summarize(service, tasks, nodes, now):
    # A status snapshot is an assessment of the current spec with no window or deadline.
    version = service["Version"]["Index"]
    try:
        assessment = assess_service(service, tasks, version, now, None, 0, None, nodes=nodes)
    except ValueError as exc:  # unreadable conductor.swarm labels: report them, do not crash
        return {"name": service["Spec"]["Name"], "id": service["ID"], "version": version, "error": str(exc)}
    update = service.get("UpdateStatus") or {}
    failures = assessment["failures"]
    return {
        "name": service["Spec"]["Name"], "id": service["ID"], "mode": assessment["mode"],
        "image": service["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"], "version": version,
        "desired": assessment["desired"], "running": assessment["running"], "healthy": assessment["healthy"],
        "update_state": update.get("State"), "update_message": update.get("Message"),
        "last_error": failures[-1]["reason"] if failures else None,
    }


def main():
    module = AnsibleModule(argument_spec=docker_argument_spec(
        name=dict(type="str", required=True),
        services=dict(type="list", elements="str"),
        logs_for=dict(type="list", elements="str", default=[]),
        log_lines=dict(type="int", default=20),
        raw=dict(type="bool", default=False),
        until_changed=dict(type="str"),
        max_wait=dict(type="float", default=0),
        poll_interval=dict(type="float", default=0.5),
    ), supports_check_mode=True)
    client = SwarmClient(module)
    client.require_manager()
    params = module.params
    try:
        (services, tasks, nodes, now), mark = wait_for_change(
            lambda: read_stack(client, params["name"], params["services"]), params["until_changed"],
            params["max_wait"], params["poll_interval"], time)
        logs = {}
        for task_id in params["logs_for"]:
            try:
                logs[task_id] = client.task_logs(task_id, params["log_lines"])
            except (DockerException, RequestException) as exc:
                logs[task_id] = ["(logs unavailable: %s)" % exc]
    except (DockerException, RequestException) as exc:
        module.fail_json(msg="cannot read stack %s: %s" % (params["name"], exc))
    by_service = {}
    for task in tasks:
        by_service.setdefault(task["ServiceID"], []).append(task)
    result = {
        "changed": False, "now": now, "logs": logs, "fingerprint": mark,
        "services": [summarize(s, by_service.get(s["ID"], []), nodes, now) for s in services],
    }
    if module.params["raw"]:
        result["raw"] = {"services": services, "tasks": tasks, "nodes": nodes}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
