# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One deploy of a stack at a time: a lock held on the swarm itself, not on a controller.

The lock is a Swarm config named ``conductor-lock-<stack>``. The Engine creates a name once
(a second create is refused as a conflict), so two controllers, or two AWX jobs, cannot both
hold it. Its labels say who holds it and until when; the holder renews it by a label update,
which the Engine checks against the object's version. A run that died (SIGKILL, a lost
controller) leaves its lock until it expires; then the next run removes that very object, by
ID, and creates its own: a lock someone re-took meanwhile has another ID and is left alone.

Plain Python over a small store interface (find, create, remove, relabel), so a unit test
drives every race with recorded answers.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

PREFIX = "conductor-lock-"
OWNER_LABEL = "conductor.swarm.lock.owner"
RUN_LABEL = "conductor.swarm.lock.run"
ACQUIRED_LABEL = "conductor.swarm.lock.acquired-at"
EXPIRES_LABEL = "conductor.swarm.lock.expires-at"
# A config must hold data; this says what the object is to whoever lists configs.
DATA = b"conductor.swarm deploy lock: see its labels; docs/deploying.md says how to break a stale one\n"

FREE, MINE, HELD, STALE = "free", "mine", "held", "stale"


class LockConflict(Exception):
    """The store refused a create (the name exists) or a relabel (the version moved)."""


class LockHeld(Exception):
    """Another run holds the lock past the wait; the message names it."""


def lock_name(stack):
    return PREFIX + stack


def owner_of_this_run(env, user, host, pid):
    """Who a run is, as the lock shows it: the AWX job when there is one, else user@host and pid."""
    job = env.get("JOB_ID") or env.get("AWX_JOB_ID")
    if job:
        return "AWX job %s (%s@%s)" % (job, user, host)
    return "%s@%s pid %s" % (user, host, pid)


def holder_labels(owner, run_id, now, ttl):
    return {OWNER_LABEL: owner, RUN_LABEL: run_id, ACQUIRED_LABEL: "%d" % now, EXPIRES_LABEL: "%d" % (now + ttl)}


def read_holder(obj):
    """A lock object as the Engine lists it -> {id, version, owner, run, acquired_at, expires_at}."""
    labels = ((obj.get("Spec") or {}).get("Labels")) or {}

    def number(key):
        try:
            return int(labels.get(key))
        except (TypeError, ValueError):
            return None
    return {"id": obj.get("ID"), "version": ((obj.get("Version") or {}).get("Index")),
            "owner": labels.get(OWNER_LABEL) or "unknown", "run": labels.get(RUN_LABEL),
            "acquired_at": number(ACQUIRED_LABEL), "expires_at": number(EXPIRES_LABEL)}


def state(holder, run_id, now):
    """FREE (no lock), MINE, HELD (by a live run) or STALE (expired, or labels unreadable)."""
    if holder is None:
        return FREE
    if holder["run"] == run_id:
        return MINE
    if holder["expires_at"] is None or holder["expires_at"] <= now:
        return STALE
    return HELD


def _clock(seconds):
    return time.strftime("%H:%M:%S UTC", time.gmtime(seconds)) if seconds is not None else "an unknown time"


def held_message(stack, holder, now, waited=None):
    """What the second run says: the holder, since when, until when, and the two ways on."""
    since = holder["acquired_at"]
    return ("stack %s is being deployed by %s (run %s) since %s (%s ago); %slock %s expires at %s, in %ds. "
            "Wait for it (stack_lock_wait, a task's lock_wait), or, if that run is gone, break it "
            "(stack_lock_break=true, a task's lock_break)"
            % (stack, holder["owner"], holder["run"] or "?", _clock(since),
               "%ds" % (now - since) if since is not None else "?",
               "waited %ds; " % waited if waited is not None else "", lock_name(stack),
               _clock(holder["expires_at"]), max(0, (holder["expires_at"] or now) - now)))


class StackLock(object):
    """store: find(name) -> object or None; create(name, data, labels) -> id (LockConflict if the name
    exists); remove(object_id) -> False if it was gone; relabel(object_id, version, labels) (LockConflict
    if the version moved)."""

    def __init__(self, store, stack, run_id, owner, ttl, clock, say):
        self.store, self.stack, self.run_id, self.owner = store, stack, run_id, owner
        self.ttl, self.clock, self.say = ttl, clock, say
        self.name = lock_name(stack)
        self.last_holder = None  # the run in the way at the last try

    def holder(self):
        """The lock's holder now ({id, version, owner, run, acquired_at, expires_at}), or None."""
        obj = self.store.find(self.name)
        return None if obj is None else read_holder(obj)

    def look(self):
        """(holder, its state for this run, what the run in the way is told or None), taking nothing."""
        holder = self.holder()
        now = self.clock.time()
        found = state(holder, self.run_id, now)
        return holder, found, held_message(self.stack, holder, now) if found == HELD else None

    def try_acquire(self, break_lock=False):
        """One attempt: None once held, else the holder that keeps it."""
        now = self.clock.time()
        holder = self.holder()
        st = state(holder, self.run_id, now)
        if st == MINE:
            return None
        if st == STALE or (st == HELD and break_lock):
            if self.store.remove(holder["id"]):
                self.say("  stack %s: broke the lock of %s (run %s, %s)" % (
                    self.stack, holder["owner"], holder["run"] or "?",
                    "expired" if st == STALE else "stack_lock_break"))
        elif st == HELD:
            return holder
        try:
            self.store.create(self.name, DATA, holder_labels(self.owner, self.run_id, now, self.ttl))
        except LockConflict:
            # Another run created it between our look and our create: it holds it.
            return self.holder() or holder
        return None

    def acquire(self, wait, break_lock=False, poll=2.0):
        """Hold the lock, waiting up to ``wait`` seconds for the holder; LockHeld past that."""
        start = self.clock.time()
        said = None
        while True:
            holder = self.try_acquire(break_lock)
            if holder is None:
                return
            self.last_holder = holder
            now = self.clock.time()
            waited = now - start
            if waited >= wait:
                raise LockHeld(held_message(self.stack, holder, now, waited=int(waited) if wait else None))
            if said != holder["run"]:
                self.say("  stack %s: waiting up to %ds for the lock: %s holds it" % (
                    self.stack, wait, holder["owner"]))
                said = holder["run"]
            self.clock.sleep(min(poll, wait - waited))

    def renew(self):
        """Push the expiry on; False when the lock is no longer this run's (broken by someone)."""
        holder = self.holder()
        now = self.clock.time()
        if state(holder, self.run_id, now) != MINE:
            return False
        labels = holder_labels(self.owner, self.run_id, now, self.ttl)
        if holder["acquired_at"] is not None:  # since when it is held stays as it was
            labels[ACQUIRED_LABEL] = "%d" % holder["acquired_at"]
        try:
            self.store.relabel(holder["id"], holder["version"], labels)
        except LockConflict:
            return False
        return True

    def release(self):
        """Remove this run's lock, and only this run's."""
        holder = self.holder()
        if state(holder, self.run_id, self.clock.time()) == MINE:
            self.store.remove(holder["id"])


class ApplyHold(object):
    """The stack lock as the apply (stack_deploy on the manager) takes it: before the swarm is read, in the
    same call, so a deploy pays no round trip for it. Given back in that call when nothing follows the apply
    (nothing changed and nothing still rolling out) or when the apply stops before any change; otherwise kept,
    and the controller's run (rollout/lease.py) renews and releases it.

    lock: a StackLock whose ``say`` appends to ``said``; answer() is what the apply returns as its ``lock``."""

    def __init__(self, lock, said, break_lock, check_mode):
        self.lock, self.said = lock, said
        self.break_lock, self.check_mode = break_lock, check_mode
        self.held = False
        self.msg = None
        self.holder = None

    def take(self):
        """None once held (in check mode: once looked at), else the refusal the apply fails with."""
        if self.check_mode:
            holder, found, self.msg = self.lock.look()
            if found == HELD:
                self.holder = holder
            return None
        self.holder = self.lock.try_acquire(self.break_lock)
        if self.holder is None:
            self.held = True
            return None
        self.msg = held_message(self.lock.stack, self.holder, self.lock.clock.time())
        return "nothing was changed: " + self.msg

    def give_back(self, errors=()):
        """Release it now; a release the store fails (one of ``errors``) leaves it held, for the controller's
        own release to try again."""
        if not self.held:
            return
        try:
            self.lock.release()
        except errors:
            return
        self.held = False

    def answer(self):
        return {"held": self.held, "holder": self.holder, "msg": self.msg, "messages": list(self.said)}
