#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: stack_lock
short_description: Take, renew or release the lock that lets one deploy of a stack run at a time
version_added: 0.1.0
description:
  - The lock is held on the swarm itself, as the config C(conductor-lock-<name>), whose labels name the run that
    holds it, since when and until when. The Engine creates a name once, so two controllers (two AWX jobs) never
    both hold it.
  - A run that died leaves its lock until it expires (O(ttl)); the next run then breaks it and says so.
    O(break_lock) breaks a lock that has not expired yet, for a holder known to be gone.
author:
  - conductor.swarm developers (@conductor-swarm)
extends_documentation_fragment:
  - conductor.swarm.docker
attributes:
  check_mode:
    support: full
    description: Says whether the lock is free, held or stale; takes nothing.
  diff_mode:
    support: none
    description: Returns the holder before.
  idempotent:
    support: full
    description: A run that holds the lock takes it again with no change.
options:
  name:
    description: Stack name.
    type: str
    required: true
  state:
    description: C(acquired) takes it (waiting up to O(wait)), C(renewed) pushes its expiry on, C(released) removes
      it if this run holds it.
    type: str
    choices: [acquired, renewed, released]
    default: acquired
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
    default: 3600
  wait:
    description: Seconds to wait for another run's lock before failing with a message naming it.
    type: int
    default: 0
  break_lock:
    description: Remove another run's lock even before it expires.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Hold shop's lock for this run, waiting up to 5 minutes for another deploy
  conductor.swarm.stack_lock:
    name: shop
    run_id: "{{ run_id }}"
    owner: "{{ lookup('env', 'USER') }}@{{ inventory_hostname }}"
    wait: 300
"""

RETURN = r"""
held:
  description: Whether this run holds the lock after the task.
  returned: always
  type: bool
holder:
  description: The holder before the task (owner, run, acquired_at, expires_at), or null for no lock.
  returned: always
  type: dict
"""


from ansible.module_utils.basic import AnsibleModule

from ansible_collections.conductor.swarm.plugins.module_utils.docker_client import (
    DockerException,
    RequestException,
    SwarmClient,
    docker_argument_spec,
)
from ansible_collections.conductor.swarm.plugins.module_utils.stack_lock import MINE, LockHeld
from ansible_collections.conductor.swarm.plugins.module_utils.stack_lock_engine import engine_lock


class LockManager(object):
    """One task: look at the lock, then take, renew or release it (check mode: look only)."""

    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.said = []
        client = SwarmClient(module)
        client.require_manager()
        self.lock = engine_lock(client, self.p["name"], self.p["run_id"], self.p["owner"], self.p["ttl"],
                                self.said.append)

    def result(self, changed, held, holder, **extra):
        return dict(extra, changed=changed, held=held, holder=holder, messages=self.said)

    def run(self):
        holder, found, msg = self.lock.look()
        mine = found == MINE
        if self.module.check_mode:
            return self.result(False, mine, holder, msg=msg)
        if self.p["state"] == "released":
            self.lock.release()
            return self.result(mine, False, holder)
        if self.p["state"] == "renewed":
            if not self.lock.renew():
                return self.result(False, False, holder, failed=True,
                                   msg="stack %s: this run no longer holds its lock (broken by another run?)"
                                   % self.p["name"])
            return self.result(True, True, holder)
        try:
            self.lock.acquire(self.p["wait"], break_lock=self.p["break_lock"])
        except LockHeld as exc:
            return self.result(False, False, self.lock.last_holder, failed=True, msg=str(exc))
        return self.result(not mine, True, holder)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if module.params["ttl"] < 1 or module.params["wait"] < 0:
        module.fail_json(msg="ttl must be 1 or more and wait 0 or more, not %d and %d" % (
            module.params["ttl"], module.params["wait"]))
    try:
        result = LockManager(module).run()
    except (DockerException, RequestException) as exc:
        module.fail_json(msg="stack %s: cannot read or write its lock: %s" % (module.params["name"], exc))
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)


def argument_spec():
    return docker_argument_spec(
        name=dict(type="str", required=True),
        state=dict(type="str", default="acquired", choices=["acquired", "renewed", "released"]),
        run_id=dict(type="str", required=True),
        owner=dict(type="str", required=True),
        ttl=dict(type="int", default=3600),
        wait=dict(type="int", default=0),
        break_lock=dict(type="bool", default=False),
    )


if __name__ == "__main__":
    main()
