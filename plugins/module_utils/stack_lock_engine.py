# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The stack lock's store (stack_lock.StackLock) on a manager's Engine: Swarm configs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64

from ansible_collections.conductor.swarm.plugins.module_utils.docker_client import DockerException, RequestException
from ansible_collections.conductor.swarm.plugins.module_utils.rollout.cluster import SystemClock
from ansible_collections.conductor.swarm.plugins.module_utils.stack_lock import LockConflict, StackLock

# What reading or writing the lock raises when the Engine or the transport fails.
ENGINE_ERRORS = (DockerException, RequestException)


def engine_lock(client, stack, run_id, owner, ttl, say):
    """The StackLock of `stack` on this manager (client: a SwarmClient), on the wall clock."""
    return StackLock(ConfigLockStore(client, ENGINE_ERRORS), stack, run_id, owner, ttl, SystemClock(), say)


def _status(exc):
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


class ConfigLockStore(object):
    """find/create/remove/relabel over a SwarmClient (docker_client.py)."""

    def __init__(self, client, errors):
        self.client = client
        self.errors = errors  # the SDK's and the transport's exceptions, as docker_client names them

    def find(self, name):
        found = [c for c in self.client.api.configs(filters={"name": name}) if c["Spec"]["Name"] == name]
        return found[0] if found else None

    def create(self, name, data, labels):
        body = {"Name": name, "Labels": labels, "Data": base64.b64encode(data).decode("ascii")}
        try:
            return self.client.create_object("configs", body).get("ID")
        except self.errors as exc:
            if _status(exc) == 409:   # the name exists: another run holds the lock
                raise LockConflict(str(exc))
            raise

    def remove(self, object_id):
        try:
            self.client.api.remove_config(object_id)
        except self.errors as exc:
            if _status(exc) == 404:   # gone already (released, or broken by another run)
                return False
            raise
        return True

    def relabel(self, object_id, version, labels):
        obj = self.client.api.inspect_config(object_id)
        spec = dict(obj["Spec"], Labels=labels)
        try:
            self.client.update_object("configs", object_id, version, spec)
        except self.errors as exc:
            if _status(exc) in (404, 409) or "out of sequence" in str(exc):
                raise LockConflict(str(exc))
            raise
