# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The spec that scales one variant, with the labels saying it was applied that way."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.conductor.swarm.plugins.module_utils.stack_diff import last_applied, with_own_labels


def scaled_spec(service, replicas):
    """(replicas before, the spec to send) for a replicated service; ValueError for a global one."""
    spec = copy.deepcopy(service["Spec"])
    mode = spec.get("Mode") or {}
    if "Replicated" not in mode:
        raise ValueError("%s is not a replicated service: it cannot be scaled" % spec["Name"])
    before = (mode["Replicated"] or {}).get("Replicas", 1)
    mode["Replicated"] = dict(mode["Replicated"] or {}, Replicas=replicas)
    identity = last_applied(service)
    if identity is None:
        return before, spec
    identity = copy.deepcopy(identity)
    identity.setdefault("Mode", {}).setdefault("Replicated", {})["Replicas"] = replicas
    return before, with_own_labels(spec, identity=identity)
