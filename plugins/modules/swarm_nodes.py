#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: swarm_nodes
short_description: Make a swarm's node roles, labels, availability and membership match the inventory
version_added: 0.1.0
description:
  - Runs on a swarm manager. Compares the nodes the swarm has with O(nodes) and promotes, relabels, demotes
    and removes nodes until they match.
  - Promotions happen first and removals last, and every step is checked against Raft quorum beforehand;
    a change that would leave the managers without a majority is refused before anything changes.
  - A node leaving the swarm is drained (its tasks move elsewhere), demoted if it is a manager, then removed.
  - Joining new hosts is done on the hosts themselves (role C(conductor.swarm.swarm_cluster)); nodes of O(nodes)
    without O(nodes[].node_id) are skipped here.
author:
  - conductor.swarm developers (@conductor-swarm)
extends_documentation_fragment:
  - conductor.swarm.docker
attributes:
  check_mode:
    support: full
    description: Reports the steps it would take and changes nothing.
  diff_mode:
    support: full
    description: Shows role, availability and labels of each node before and after.
  idempotent:
    support: full
    description: A second run against a swarm that already matches changes nothing.
options:
  nodes:
    description: The nodes the swarm should have.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Inventory name of the host, used in messages.
        type: str
        required: true
      node_id:
        description: Swarm node ID the host's engine reports (C(docker info) C(Swarm.NodeID)). Empty when not joined yet.
        type: str
      role:
        description: Role the node should have.
        type: str
        choices: [manager, worker]
        required: true
      labels:
        description:
          - Node labels. With O(exclusive_labels=true) these become the node's only labels.
          - Omit to leave the node's labels alone.
        type: dict
      availability:
        description: Scheduling availability. Omit to leave it alone.
        type: str
        choices: [active, pause, drain]
      state:
        description:
          - V(absent) takes the node out of the swarm (drained, demoted, removed) whatever O(remove_absent) says.
        type: str
        choices: [present, absent]
        default: present
  exclusive_labels:
    description: Remove node labels that O(nodes[].labels) does not list.
    type: bool
    default: true
  remove_absent:
    description: Remove swarm nodes that are not in O(nodes).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for a promoted node to become a reachable manager, or a leaving node to drain.
    type: int
    default: 120
"""

EXAMPLES = r"""
- name: Match the swarm to the inventory
  conductor.swarm.swarm_nodes:
    nodes:
      - name: manager1
        node_id: "{{ hostvars['manager1'].swarm_cluster_local.NodeID }}"
        role: manager
      - name: worker1
        node_id: "{{ hostvars['worker1'].swarm_cluster_local.NodeID }}"
        role: worker
        labels:
          zone: a
        availability: active

- name: Show what would change, without changing it
  conductor.swarm.swarm_nodes:
    nodes: "{{ desired_nodes }}"
  check_mode: true
  diff: true
"""

RETURN = r"""
steps:
  description: The steps taken (or, in check mode, that would be taken), in order.
  returned: always
  type: list
  elements: dict
  sample: [{"action": "promote", "name": "node2", "node_id": "x1y2", "role": "manager"}]
summary:
  description: One line per step.
  returned: always
  type: list
  elements: str
  sample: ["promote node2", "update node3: labels=zone=a"]
nodes:
  description: The swarm's nodes after the run (before it, in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{"id": "x1y2", "hostname": "node2", "role": "manager", "availability": "active",
            "labels": {}, "state": "ready", "reachability": "reachable", "leader": false}]
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.conductor.swarm.plugins.module_utils.docker_client import (
    DockerException,
    RequestException,
    SwarmClient,
    docker_argument_spec,
)
from ansible_collections.conductor.swarm.plugins.module_utils.swarm_topology import (
    AVAILABILITIES,
    TopologyError,
    live_node_from_api,
    plan_membership,
    summarize,
)


class SwarmNodesManager:
    """Plan with swarm_topology, then apply the plan step by step."""

    POLL = 1.0

    def __init__(self, module):
        self.module = module
        self.client = SwarmClient(module)

    def live_nodes(self):
        return [live_node_from_api(n) for n in self.client.nodes()]

    def run(self):
        params = self.module.params
        self.client.require_manager()
        before = self.live_nodes()
        try:
            plan = plan_membership(before, params["nodes"], exclusive_labels=params["exclusive_labels"],
                                   remove_absent=params["remove_absent"])
        except TopologyError as exc:
            self.module.fail_json(msg=str(exc), nodes=before, steps=[], summary=[])
        for warning in plan["warnings"]:
            self.module.warn(warning)
        steps = plan["steps"]
        result = dict(changed=bool(steps), steps=steps, summary=summarize(steps))
        if steps and not self.module.check_mode:
            for step in steps:
                self.apply(step)
            after = self.live_nodes()
        else:
            after = before
        result["nodes"] = after
        if self.module._diff:
            result["diff"] = dict(before=self._diff_view(before), after=self._diff_view(
                after if not self.module.check_mode else self._predict(before, steps)))
        self.module.exit_json(**result)

    def apply(self, step):
        node_id, action = step["node_id"], step["action"]
        try:
            if action == "promote":
                self.client.update_node(node_id, Role="manager")
                self.wait_for(node_id, lambda n: n["reachability"] == "reachable",
                              "%s to become a reachable manager" % step["name"])
            elif action == "update":
                changes = {}
                if "availability" in step:
                    changes["Availability"] = step["availability"]
                if "labels" in step:
                    changes["Labels"] = step["labels"]
                self.client.update_node(node_id, **changes)
            elif action == "demote":
                self.client.update_node(node_id, Role="worker")
                self.wait_for(node_id, lambda n: n["reachability"] is None,
                              "%s to leave the managers" % step["name"])
            elif action == "remove":
                self.remove(step)
        except (DockerException, RequestException) as exc:
            self.module.fail_json(msg="%s %s failed: %s" % (action, step["name"], exc),
                                  failed_step=step, nodes=self.live_nodes())

    def remove(self, step):
        node_id = step["node_id"]
        node = self._node(node_id)
        if node is None:
            return
        if node["state"] == "ready":
            # A live node drains first so its tasks are rescheduled, not lost.
            self.client.update_node(node_id, Availability="drain")
            self.wait_for_drained(node_id, step["name"])
        if node["role"] == "manager":
            self.client.update_node(node_id, Role="worker")
            self.wait_for(node_id, lambda n: n["reachability"] is None,
                          "%s to leave the managers" % step["name"])
        self.client.remove_node(node_id)

    def _node(self, node_id):
        for node in self.live_nodes():
            if node["id"] == node_id:
                return node
        return None

    def wait_for(self, node_id, condition, what):
        deadline = time.monotonic() + self.module.params["wait_timeout"]
        while True:
            node = self._node(node_id)
            if node is not None and condition(node):
                return node
            if time.monotonic() > deadline:
                self.module.fail_json(msg="timed out after %ss waiting for %s"
                                      % (self.module.params["wait_timeout"], what),
                                      nodes=self.live_nodes())
            time.sleep(self.POLL)

    def wait_for_drained(self, node_id, name):
        deadline = time.monotonic() + self.module.params["wait_timeout"]
        while True:
            tasks = self.client.api.tasks(filters={"node": node_id, "desired-state": "running"})
            if not tasks:
                return
            if time.monotonic() > deadline:
                # Drain is best effort: swarm reschedules what it can, the node goes anyway.
                self.module.warn("%s still had %d running task(s) after %ss of draining; removing it"
                                 % (name, len(tasks), self.module.params["wait_timeout"]))
                return
            time.sleep(self.POLL)

    @staticmethod
    def _diff_view(nodes):
        return dict((n["hostname"] or n["id"], dict(role=n["role"], availability=n["availability"],
                                                    labels=n["labels"])) for n in nodes)

    @staticmethod
    def _predict(nodes, steps):
        predicted = dict((n["id"], dict(n, labels=dict(n["labels"]))) for n in nodes)
        for step in steps:
            node = predicted.get(step["node_id"])
            if step["action"] == "remove":
                predicted.pop(step["node_id"], None)
            elif node is not None:
                for key in ("role", "availability", "labels"):
                    if key in step:
                        node[key] = step[key]
        return list(predicted.values())


def main():
    node_spec = dict(
        name=dict(type="str", required=True),
        node_id=dict(type="str"),
        role=dict(type="str", required=True, choices=["manager", "worker"]),
        labels=dict(type="dict"),
        availability=dict(type="str", choices=list(AVAILABILITIES)),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleModule(
        argument_spec=docker_argument_spec(
            nodes=dict(type="list", elements="dict", required=True, options=node_spec),
            exclusive_labels=dict(type="bool", default=True),
            remove_absent=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=120),
        ),
        supports_check_mode=True,
    )
    SwarmNodesManager(module).run()


if __name__ == "__main__":
    main()
