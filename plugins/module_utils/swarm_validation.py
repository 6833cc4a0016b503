# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a swarm manager refuses in a service spec that the Compose loader accepts.

The CLI and the loader accept, for example, ``cpus: '0.0001'``, a placement
constraint with no operator, or two mounts on one path; the manager then
refuses the service at create or update, after the stack's networks, configs
and secrets exist. These checks run on the converted spec (Engine API form)
before anything changes, in check mode too, and name the refusal as the
manager words it (swarmkit's controlapi validation: the texts were read from
Engine 26.1's answers on the lab).

Pure logic. Public API: ``swarm_refusals(spec)`` -> list of messages.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

MIN_NANO_CPUS = 1000000  # 0.001 CPU
MIN_MEMORY_BYTES = 4 * 1024 * 1024
OPERATORS = ("==", "!=")
# swarmkit's constraint grammar: a key, one operator, a value (case-insensitive).
_KEY = re.compile(r"^[a-z_][a-z0-9\-_.]+$", re.I)
_VALUE = re.compile(r"^[a-z0-9:\-_\s\.\*\(\)\?\+\[\]\\\^\$\|\/]+$", re.I)


def _cpus(nano):
    text = "%.9f" % (nano / 1e9)
    return text.rstrip("0").rstrip(".")


def _resource_refusals(resources):
    found = []
    for kind in ("Limits", "Reservations"):
        entry = (resources or {}).get(kind) or {}
        nano = entry.get("NanoCPUs") or 0
        if 0 < nano < MIN_NANO_CPUS:
            found.append("invalid cpu value %s: Must be at least 0.001 (resources.%s.cpus)" % (_cpus(nano), kind.lower()))
        memory = entry.get("MemoryBytes") or 0
        if 0 < memory < MIN_MEMORY_BYTES:
            found.append("invalid memory value %d: Must be at least 4MiB (resources.%s.memory)" % (memory, kind.lower()))
    return found


def constraint_refusal(constraint):
    """The manager's reason to refuse one placement constraint, or None."""
    for operator in OPERATORS:
        if operator not in constraint:
            continue
        key, value = [part.strip() for part in constraint.split(operator, 1)]
        if not _KEY.match(key):
            return "key '%s' is invalid" % key
        if not _VALUE.match(value):
            return "value '%s' is invalid" % value
        return None
    return "constraint expected one operator from %s" % ", ".join(OPERATORS)


def _mount_refusals(mounts):
    seen, found = set(), []
    for mount in mounts or []:
        target = mount.get("Target")
        if target in seen:
            found.append("duplicate mount point: %s" % target)
        seen.add(target)
    return found


def swarm_refusals(spec):
    """Why a swarm manager would refuse this service spec: a list of its messages (empty: none)."""
    task = spec.get("TaskTemplate") or {}
    found = _resource_refusals(task.get("Resources"))
    for constraint in (task.get("Placement") or {}).get("Constraints") or []:
        refusal = constraint_refusal(constraint)
        if refusal:
            found.append("placement constraint %r: %s" % (constraint, refusal))
    found.extend(_mount_refusals((task.get("ContainerSpec") or {}).get("Mounts")))
    return found
