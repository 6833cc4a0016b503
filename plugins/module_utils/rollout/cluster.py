# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a rollout needs from a swarm, as one small interface.

The action plugin implements it by running the collection's modules on a
manager; unit tests implement it with recorded answers. Every method returns
the module's result dict; a failed call is a dict with ``failed`` set, except
``poll``, which raises ClusterError: tracking cannot go on without it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ClusterError(Exception):
    """The swarm could not be read while a rollout needed it."""


class Cluster(object):
    def apply(self, **overrides):
        """Run stack_deploy (the apply phase), with module arguments overridden."""
        raise NotImplementedError

    def poll(self, services, logs_for=(), until_changed=None, max_wait=0):
        """stack_info with raw=True for these services: services, tasks, nodes, now, logs, and a fingerprint.

        With until_changed (an earlier answer's fingerprint), the answer may wait up to max_wait seconds
        for the swarm to change; an answer without a fingerprint means the cluster cannot wait, and the
        tracker sleeps between polls instead."""
        raise NotImplementedError

    def roll_back(self, services, expected_hashes, remove, remove_objects=()):
        """stack_rollback: previous specs for `services`, remove the created ones, then the objects
        ({"kind": network|config|secret, "id", "name"}) a refused deploy had made."""
        raise NotImplementedError

    def scale(self, service, replicas):
        """stack_variant: set a colour's replicas (0 takes it out of service, its spec kept)."""
        raise NotImplementedError

    def cleanup(self):
        """stack_deploy's cleanup phase: unused config and secret versions."""
        raise NotImplementedError

    def lock(self, state, run_id, owner, ttl):
        """stack_lock, renewed or released (the apply takes it): held, holder, msg; a renewal of a lock
        this run no longer holds is a failed answer."""
        raise NotImplementedError


class SystemClock(object):
    """Wall time and sleep; a unit test passes a clock that moves when asked."""

    def __init__(self):
        import time
        self._time = time

    def time(self):
        return self._time.time()

    def sleep(self, seconds):
        self._time.sleep(seconds)
