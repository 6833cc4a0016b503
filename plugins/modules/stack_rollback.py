#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: stack_rollback
short_description: Roll a stack's services back to their previous spec
version_added: 0.1.0
description:
  - Asks Swarm to roll each given service back to its previous spec, and removes services that a failed deploy created.
  - A service is rolled back only while it still runs the spec of the deploy being undone (O(expected_hashes)), so a
    service that Swarm already rolled back on its own is not flipped back to the failed spec.
  - C(conductor.swarm.stack_deploy) calls it when a rollout fails, and when the swarm refused part of a deploy
    (then also for the networks, configs and secrets that deploy created); it can also be used on its own.
author:
  - conductor.swarm developers (@conductor-swarm)
extends_documentation_fragment:
  - conductor.swarm.docker
attributes:
  check_mode:
    support: full
    description: Reports what it would roll back.
  diff_mode:
    support: none
    description: Reports the services it rolls back in its result.
  idempotent:
    support: partial
    description: With O(expected_hashes), a second run finds nothing on the undone spec and changes nothing.
options:
  name:
    description: Stack name.
    type: str
    required: true
  services:
    description: Full names of services to roll back to their previous spec. All services of the stack when omitted.
    type: list
    elements: str
  expected_hashes:
    description:
      - Per full service name, the C(conductor.swarm.spec-hash) label of the spec being undone.
      - A service whose label differs is left alone.
    type: dict
    default: {}
  remove:
    description: Full names of services to remove (created by the deploy being undone).
    type: list
    elements: str
    default: []
  remove_objects:
    description:
      - Networks, configs and secrets to remove (created by the deploy being undone), after the services.
      - A network whose tasks are still detaching, or a config or secret a stopping task still holds, is retried
        for up to O(remove_wait) seconds; one still in use then is left, and reported in RV(kept).
    type: list
    elements: dict
    default: []
    suboptions:
      kind:
        description: What it is.
        type: str
        required: true
        choices: [network, config, secret]
      id:
        description: Its ID.
        type: str
        required: true
      name:
        description: Its name, for the result.
        type: str
        required: true
  remove_wait:
    description: Seconds to retry removing an object still in use.
    type: int
    default: 30
"""

EXAMPLES = r"""
- name: Roll the whole shop stack back to the previous version
  conductor.swarm.stack_rollback:
    name: shop
  delegate_to: "{{ groups['managers'][0] }}"
  run_once: true
"""

RETURN = r"""
rolled_back:
  description: Services rolled back, with the spec version they are on now.
  returned: always
  type: dict
  sample: {"shop_web": 57}
removed:
  description: Services removed.
  returned: always
  type: list
  elements: str
skipped:
  description: Services left alone, with the reason.
  returned: always
  type: dict
  sample: {"shop_api": "already rolled back by Swarm"}
removed_objects:
  description: Networks, configs and secrets removed, as C(<kind> <name>).
  returned: always
  type: list
  elements: str
  sample: ["network shop_backend", "config shop_app_conf_3f2a9c1b0e"]
kept:
  description: Objects of O(remove_objects) that could not be removed, with the Engine's reason.
  returned: always
  type: dict
  sample: {"network shop_backend": "network shop_backend has active endpoints"}
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.conductor.swarm.plugins.module_utils.docker_client import (
    DockerException,
    RequestException,
    SwarmClient,
    docker_argument_spec,
)
from ansible_collections.conductor.swarm.plugins.module_utils.labels import HASH_LABEL


def skip_reason(service, expected):
    """Why a service must not be rolled back, or None."""
    # Swarm's own rollback clears PreviousSpec: check for it first.
    state = (service.get("UpdateStatus") or {}).get("State", "")
    if state.startswith("rollback"):
        return "already rolled back by Swarm"
    if not service.get("PreviousSpec"):
        return "no previous spec"
    label = (service["Spec"].get("Labels") or {}).get(HASH_LABEL)
    if expected is not None and label != expected:
        return "not on the spec being undone"
    return None


def remove_objects(client, objects, wait, check_mode, clock=time):
    """Remove each object; one still in use is retried until `wait` s have passed. (removed, kept)."""
    removers = {"network": client.api.remove_network, "config": client.api.remove_config,
                "secret": client.api.remove_secret}
    removed, kept = [], {}
    deadline = clock.time() + wait
    pending = list(objects)
    while pending:
        still = []
        for obj in pending:
            label = "%s %s" % (obj["kind"], obj["name"])
            try:
                if not check_mode:
                    removers[obj["kind"]](obj["id"])
                removed.append(label)
            except (DockerException, RequestException) as exc:
                text = str(exc)
                if "not found" in text.lower() or "no such" in text.lower():
                    removed.append(label)  # gone already
                elif clock.time() < deadline:
                    still.append(obj)  # tasks of a removed service still detaching
                else:
                    kept[label] = text
        pending = still
        if pending:
            clock.sleep(1)
    return removed, kept


def main():
    module = AnsibleModule(argument_spec=docker_argument_spec(
        name=dict(type="str", required=True),
        services=dict(type="list", elements="str"),
        expected_hashes=dict(type="dict", default={}),
        remove=dict(type="list", elements="str", default=[]),
        remove_objects=dict(type="list", elements="dict", default=[], options=dict(
            kind=dict(type="str", required=True, choices=["network", "config", "secret"]),
            id=dict(type="str", required=True),
            name=dict(type="str", required=True))),
        remove_wait=dict(type="int", default=30),
    ), supports_check_mode=True)
    client = SwarmClient(module)
    client.require_manager()
    params = module.params
    result = {"rolled_back": {}, "removed": [], "skipped": {}, "removed_objects": [], "kept": {}}
    try:
        for service in client.stack_services(params["name"]):
            name = service["Spec"]["Name"]
            if name in params["remove"]:
                if not module.check_mode:
                    client.api.remove_service(service["ID"])
                result["removed"].append(name)
                continue
            if params["services"] is not None and name not in params["services"]:
                continue
            reason = skip_reason(service, params["expected_hashes"].get(name))
            if reason:
                result["skipped"][name] = reason
                continue
            version = service["Version"]["Index"]
            if not module.check_mode:
                client.update_service(service["ID"], version, service["Spec"], rollback=True)
                version = client.api.inspect_service(service["ID"])["Version"]["Index"]
            result["rolled_back"][name] = version
    except (DockerException, RequestException) as exc:
        module.fail_json(msg="rollback of stack %s failed: %s" % (params["name"], exc), **result)
    result["removed_objects"], result["kept"] = remove_objects(client, params["remove_objects"], params["remove_wait"],
                                                               module.check_mode)
    module.exit_json(changed=bool(result["rolled_back"] or result["removed"] or result["removed_objects"]), **result)


if __name__ == "__main__":
    main()
