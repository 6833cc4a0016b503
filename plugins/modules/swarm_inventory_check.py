#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: swarm_inventory_check
short_description: Check an inventory's swarm groups before any host is touched
version_added: 0.1.0
description:
  - Runs on the controller only. Fails, naming the problem, when there is no manager, a host is in
    more than one of the groups, or a group lists a host twice.
  - Warns about an even number of managers (no fault tolerance gained over one fewer) and about more than seven.
author:
  - conductor.swarm developers (@conductor-swarm)
attributes:
  check_mode:
    support: full
    description: Reads only the arguments; behaves the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to show.
  idempotent:
    support: full
    description: Never changes anything.
  action:
    support: full
    description: Runs as an action plugin on the controller.
options:
  managers:
    description: Hosts that should be swarm managers.
    type: list
    elements: str
    default: []
  workers:
    description: Hosts that should be swarm workers.
    type: list
    elements: str
    default: []
  retired:
    description: Hosts that should leave the swarm.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Refuse a broken inventory before touching a host
  conductor.swarm.swarm_inventory_check:
    managers: "{{ groups['managers'] | default([]) }}"
    workers: "{{ groups['workers'] | default([]) }}"
"""

RETURN = r"""
errors:
  description: Problems that make the inventory unusable.
  returned: always
  type: list
  elements: str
  sample: ["host(s) node2 are in both 'managers' and 'workers': put each host in one group"]
warnings:
  description: Problems worth knowing that do not stop the run.
  returned: always
  type: list
  elements: str
  sample: ["2 managers tolerate no more manager failures than 1: use an odd number of managers (1, 3, 5 or 7)"]
"""
