# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""This run's hold on the stack lock (stack_lock.py), seen from the controller.

The lock lives on the swarm; each call here is one try of the stack_lock module
through the Cluster port, so the waiting, and the lines it prints, happen here
where the user sees them. While held, the lock is renewed whenever the run talks
to the swarm and a third of its time to live has passed: a run that dies leaves a
lock that expires within LEASE_TTL_SECONDS, however long the live run takes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.conductor.swarm.plugins.module_utils.rollout.cluster import ClusterError

LEASE_TTL_SECONDS = 600
# While waiting for another run's lock: a try this often, a line this often.
TRY_EVERY_SECONDS = 2
SAY_EVERY_SECONDS = 30


class Lease(object):
    """wait: seconds to wait for another run's lock (0: fail at once); break_lock: take it anyway."""

    def __init__(self, cluster, run_id, owner, wait, break_lock, say, clock, ttl=LEASE_TTL_SECONDS):
        self.cluster, self.run_id, self.owner = cluster, run_id, owner
        self.wait, self.break_lock, self.ttl = wait, break_lock, ttl
        self.say, self.clock = say, clock
        self.held = False
        self.renewed_at = None
        self.warnings = []

    def _try(self, state, break_lock=False):
        return self.cluster.lock(state, run_id=self.run_id, owner=self.owner, ttl=self.ttl, break_lock=break_lock)

    def hold(self, stack, check_mode=False):
        """None once held (in check mode: once looked at), else the failed result the run returns."""
        start = self.clock.time()
        said_at = None
        while True:
            answer = self._try("acquired", self.break_lock)
            for line in answer.get("messages") or []:
                self.say(line)
            if check_mode:
                if answer.get("holder") and not answer.get("held"):
                    self.say("  stack %s: %s" % (stack, answer.get("msg")))
                return None
            if answer.get("held"):
                self.held = True
                self.renewed_at = self.clock.time()
                return None
            if not answer.get("holder"):  # not a holder in the way: the lock could not be read or written
                return {"failed": True, "changed": False,
                        "msg": "stack %s: nothing was changed: %s" % (stack, answer.get("msg"))}
            waited = self.clock.time() - start
            if waited >= self.wait:
                return {"failed": True, "changed": False, "lock_holder": answer["holder"],
                        "msg": "nothing was changed%s: %s" % (
                            "; waited %ds for the lock" % waited if self.wait else "", answer.get("msg"))}
            if said_at is None or self.clock.time() - said_at >= SAY_EVERY_SECONDS:
                holder = answer["holder"]
                self.say("  stack %s: waiting for the lock (%ds of %ds): %s deploys it (run %s)" % (
                    stack, waited, self.wait, holder.get("owner"), holder.get("run")))
                said_at = self.clock.time()
            self.clock.sleep(min(TRY_EVERY_SECONDS, self.wait - waited))

    def renew_if_due(self):
        """Push the expiry on when a third of the time to live has passed; a lock lost meanwhile is a warning."""
        if not self.held or self.clock.time() - self.renewed_at < self.ttl / 3.0:
            return
        self.renewed_at = self.clock.time()
        try:
            answer = self._try("renewed")
        except ClusterError as exc:
            answer = {"failed": True, "msg": str(exc)}
        if answer.get("failed"):
            # Someone broke it (stack_lock_break), or the manager did not answer: the run goes on, and its
            # tracker still tells a deploy that supersedes this one.
            self.held = False
            self.warnings.append("this run lost its stack lock before it ended: %s" % answer.get("msg"))

    def release(self):
        if not self.held:
            return
        self.held = False
        try:
            answer = self._try("released")
        except ClusterError as exc:
            answer = {"failed": True, "msg": str(exc)}
        if answer.get("failed"):
            self.warnings.append("the stack lock could not be released (it expires within %ds): %s" % (
                self.ttl, answer.get("msg")))
