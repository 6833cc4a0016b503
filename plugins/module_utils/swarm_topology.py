# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Swarm membership as pure logic: no Docker, no Ansible.

Given the nodes a swarm has now and the nodes the inventory wants, work out the
ordered steps that take one to the other (promote, relabel, demote, remove) and
refuse any order of steps that would cost the managers their Raft quorum.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

MANAGER = "manager"
WORKER = "worker"
AVAILABILITIES = ("active", "pause", "drain")
# Docker's guidance: more managers than this slows every Raft write.
MAX_USEFUL_MANAGERS = 7


class TopologyError(Exception):
    """The requested membership cannot be reached safely."""


def validate_groups(managers, workers, retired=()):
    """Check the inventory's groups before anything touches a host.

    Returns (errors, warnings), each a list of sentences naming the problem.
    """
    errors, warnings = [], []
    managers, workers, retired = list(managers), list(workers), list(retired)
    if not managers:
        errors.append(
            "the inventory has no host in group 'managers': a swarm needs at least one manager")
    for group, members in (("managers", managers), ("workers", workers), ("retired", retired)):
        dupes = sorted({h for h in members if members.count(h) > 1})
        if dupes:
            errors.append("group '%s' lists %s more than once" % (group, ", ".join(dupes)))
    both = sorted(set(managers) & set(workers))
    if both:
        errors.append(
            "host(s) %s are in both 'managers' and 'workers': put each host in one group"
            % ", ".join(both))
    leaving = sorted(set(retired) & (set(managers) | set(workers)))
    if leaving:
        errors.append(
            "host(s) %s are in 'retired' and also in 'managers' or 'workers'" % ", ".join(leaving))
    count = len(set(managers))
    if count and count % 2 == 0:
        warnings.append(
            "%d managers tolerate no more manager failures than %d: use an odd number "
            "of managers (1, 3, 5 or 7)" % (count, count - 1))
    if count > MAX_USEFUL_MANAGERS:
        warnings.append(
            "%d managers: more than %d slow down every cluster change without adding "
            "useful fault tolerance" % (count, MAX_USEFUL_MANAGERS))
    return errors, warnings


def live_node_from_api(node):
    """Reduce a node as the Docker API returns it (GET /nodes) to what the plan needs."""
    spec = node.get("Spec") or {}
    status = node.get("Status") or {}
    manager_status = node.get("ManagerStatus") or {}
    return {
        "id": node["ID"],
        "hostname": (node.get("Description") or {}).get("Hostname", ""),
        "role": spec.get("Role", WORKER),
        "availability": spec.get("Availability", "active"),
        "labels": dict(spec.get("Labels") or {}),
        "state": status.get("State", "unknown"),
        "reachability": manager_status.get("Reachability"),
        "leader": bool(manager_status.get("Leader")),
    }


def _manager_counts(live):
    managers = [n for n in live if n["role"] == MANAGER]
    reachable = [n for n in managers if n.get("reachability") == "reachable"]
    return len(managers), len(reachable)


def has_quorum(total, reachable):
    return total > 0 and reachable > total // 2


def plan_membership(live, desired, exclusive_labels=True, remove_absent=True):
    """The ordered steps that make the swarm match the inventory.

    live:    nodes as returned by live_node_from_api().
    desired: dicts with name, node_id (None when the host has not joined yet),
             role, labels (None: leave labels alone), availability (None:
             leave it alone) and state ("absent": take the node out whatever
             remove_absent says; default "present").
    Returns a dict: steps (list of dicts with action, node_id, name and what
    changes), warnings. Raises TopologyError when no safe order exists.

    Order matters for Raft: promotions first, so the cluster has its new
    managers before any old one leaves; then relabels; then demotions; then
    removals (drain, demote, remove), each checked against quorum.
    """
    by_id = dict((n["id"], n) for n in live)
    warnings = []
    promote, update, demote, remove = [], [], [], []
    wanted_ids, retire_ids = set(), set()

    for want in desired:
        node_id = want.get("node_id")
        if not node_id:
            continue  # joins happen on the host itself, before this plan runs
        node = by_id.get(node_id)
        if want.get("state") == "absent":
            if node is not None:
                retire_ids.add(node_id)
            continue
        if node is None:
            raise TopologyError(
                "host %s reports swarm node ID %s, which the swarm does not know: it belongs "
                "to another swarm or was removed; make it leave (docker swarm leave --force) "
                "and run again" % (want["name"], node_id))
        wanted_ids.add(node_id)
        changes = {}
        if want.get("availability") and want["availability"] != node["availability"]:
            changes["availability"] = want["availability"]
        labels = want.get("labels")
        if labels is not None:
            labels = dict((str(k), str(v)) for k, v in labels.items())
            target = labels if exclusive_labels else dict(node["labels"], **labels)
            if target != node["labels"]:
                changes["labels"] = target
        if want["role"] == MANAGER and node["role"] != MANAGER:
            promote.append(_step("promote", node, want["name"], role=MANAGER))
        if changes:
            update.append(_step("update", node, want["name"], **changes))
        if want["role"] == WORKER and node["role"] == MANAGER:
            demote.append(_step("demote", node, want["name"], role=WORKER))

    strays = []
    for node in live:
        if node["id"] in wanted_ids:
            continue
        if remove_absent or node["id"] in retire_ids:
            remove.append(_step("remove", node, node["hostname"], was=node["role"]))
        else:
            strays.append(node["hostname"])
    if strays:
        warnings.append("nodes not in the inventory were kept: %s" % ", ".join(sorted(strays)))

    # Remove unreachable managers before reachable ones: it only helps quorum.
    remove.sort(key=lambda s: (s["was"] != MANAGER, by_id[s["node_id"]].get("reachability") == "reachable"))
    steps = promote + update + demote + remove
    check_quorum(live, steps)
    return {"steps": steps, "warnings": warnings}


def _step(action, node, name, **changes):
    step = {"action": action, "node_id": node["id"], "name": name}
    step.update(changes)
    return step


def check_quorum(live, steps):
    """Replay the steps on the manager set; raise if any moment lacks a majority."""
    by_id = dict((n["id"], n) for n in live)
    managers = dict((n["id"], n.get("reachability") == "reachable")
                    for n in live if n["role"] == MANAGER)
    total, reachable = len(managers), sum(managers.values())
    if managers and not has_quorum(total, reachable):
        raise TopologyError(
            "the swarm has already lost quorum: %d of %d managers reachable. Nothing was "
            "changed. Recover on a surviving manager with 'docker swarm init "
            "--force-new-cluster', then run again" % (reachable, total))
    if not steps:
        return
    for step in steps:
        node = by_id[step["node_id"]]
        if step["action"] == "promote":
            managers[node["id"]] = node["state"] == "ready"
        elif step["action"] in ("demote", "remove") and node["id"] in managers:
            del managers[node["id"]]
        else:
            continue
        total, reachable = len(managers), sum(managers.values())
        if total == 0:
            raise TopologyError(
                "%s %s would leave the swarm without a manager. Nothing was changed"
                % (_verb(step), step["name"]))
        if not has_quorum(total, reachable):
            raise TopologyError(
                "%s %s would lose quorum: %d of the remaining %d managers reachable, a "
                "majority is %d. Nothing was changed: bring the unreachable managers back "
                "or remove them first" % (_verb(step), step["name"], reachable, total,
                                          total // 2 + 1))


def _verb(step):
    return {"promote": "promoting", "demote": "demoting", "remove": "removing"}[step["action"]]


def summarize(steps):
    """One line per step, for the module's output."""
    lines = []
    for s in steps:
        if s["action"] == "update":
            parts = []
            if "availability" in s:
                parts.append("availability=%s" % s["availability"])
            if "labels" in s:
                parts.append("labels=%s" % ",".join("%s=%s" % kv for kv in sorted(s["labels"].items())))
            lines.append("update %s: %s" % (s["name"], " ".join(parts)))
        else:
            lines.append("%s %s" % (s["action"], s["name"]))
    return lines
