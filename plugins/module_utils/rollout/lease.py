# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""This run's hold on the stack lock (stack_lock.py), seen from the controller.

The apply takes the lock itself, in the same call as its change (stack_lock.ApplyHold), and
gives it back in that call when nothing follows; so waiting for another run's lock is trying
the apply again, here, where the user sees the lines. While held, the lock is renewed whenever
the run talks to the swarm and a third of its time to live has passed: a run that dies leaves
a lock that expires within LEASE_TTL_SECONDS, however long the live run takes.
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

    def _try(self, state):
        return self.cluster.lock(state, run_id=self.run_id, owner=self.owner, ttl=self.ttl)

    def apply(self, stack, check_mode=False):
        """The apply, taking the lock: tried again every TRY_EVERY_SECONDS while another run holds it, for up to
        `wait` seconds. Returns the apply's answer; a refusal names the holder (lock_holder) and changed nothing."""
        start = self.clock.time()
        said_at = None
        while True:
            # Until the answer says otherwise, the apply may have taken it (a lost connection, say), and a
            # release takes only this run's lock: so it is released unless the answer says it is not held.
            self.held, self.renewed_at = True, self.clock.time()
            answer = dict(self.cluster.apply(lock_run={"run_id": self.run_id, "owner": self.owner, "ttl": self.ttl},
                                             lock_break=self.break_lock))
            lock = answer.pop("lock", None)
            for line in (lock or {}).get("messages") or []:
                self.say(line)
            # No word on the lock: refused before it (bad files), or a crash after it (module_stderr).
            self.held = lock["held"] if lock else "module_stderr" in answer
            if check_mode:
                if lock and lock.get("msg"):
                    self.say("  stack %s: %s" % (stack, lock["msg"]))
                return answer
            if not answer.get("lock_holder"):
                return answer
            waited = self.clock.time() - start
            if waited >= self.wait:
                if self.wait:
                    answer["msg"] = "nothing was changed; waited %ds for the lock: %s" % (waited, lock["msg"])
                return answer
            if said_at is None or self.clock.time() - said_at >= SAY_EVERY_SECONDS:
                holder = answer["lock_holder"]
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
