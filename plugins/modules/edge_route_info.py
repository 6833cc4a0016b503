#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: edge_route_info
short_description: The edge proxy's routing state, and what it measured per colour of a route
version_added: 0.1.0
description:
  - Returns the routing state stored on the edge proxy's service and, for O(route), the requests, 5xx answers,
    connection errors and p99 latency every proxy task measured per colour since O(since), added up.
  - C(conductor.swarm.stack_deploy) reads it for the canary gates and the post-switch window of blue-green.
author:
  - conductor.swarm developers (@conductor-swarm)
extends_documentation_fragment:
  - conductor.swarm.docker
  - conductor.swarm.edge
attributes:
  check_mode:
    support: full
    description: Reads only.
  diff_mode:
    support: none
    description: Reads only.
  idempotent:
    support: full
    description: Reads only.
options:
  route:
    description: A route key, such as C(shop_web), whose figures to return.
    type: str
  since:
    description: Seconds since the epoch (the manager's clock) from which requests count; all since the proxy started
      when omitted.
    type: float
"""

EXAMPLES = r"""
- name: What the canary of shop_web served in the last minute
  conductor.swarm.edge_route_info:
    route: shop_web
    since: "{{ now().timestamp() - 60 }}"
  register: shop_web_figures
"""

RETURN = r"""
state:
  description: The routing state, C(generation) and C(routes) (per route C(green) percent and C(preview)).
  returned: always
  type: dict
metrics:
  description: Per colour of O(route), C(requests), C(errors_5xx), C(conn_errors) and C(p99_ms).
  returned: when O(route) is given
  type: dict
now:
  description: The manager's clock when the figures were read.
  returned: always
  type: float
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.conductor.swarm.plugins.module_utils.docker_client import docker_argument_spec
from ansible_collections.conductor.swarm.plugins.module_utils.edge.proxy_client import EDGE_ARGS, edge_proxy_for, run_or_fail


def read(module, proxy):
    result = {"changed": False, "state": proxy.state()}
    if module.params["route"]:
        result["metrics"] = proxy.metrics(module.params["route"], module.params["since"])
    result["now"] = time.time()
    return result


def main():
    module = AnsibleModule(argument_spec=docker_argument_spec(
        route=dict(type="str"),
        since=dict(type="float"),
        **EDGE_ARGS), supports_check_mode=True)
    proxy = edge_proxy_for(module)
    module.exit_json(**run_or_fail(module, "cannot read the edge proxy", lambda: read(module, proxy)))


if __name__ == "__main__":
    main()
