#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: edge_route
short_description: Switch a route of the edge proxy between the colours of a service
version_added: 0.1.0
description:
  - Sets which share of a route's requests goes to the green colour of a service (the rest to blue), and which colour
    answers preview requests (header C(X-Conductor-Preview)), then waits until every edge proxy task applied it.
  - The routing state is stored on the edge proxy's service (a label; no task restarts), so a proxy task that
    restarts, or one on another node, serves the current state. The proxy applies it through HAProxy's Runtime API,
    so keep-alive clients move on their next request and in-flight requests finish.
  - C(conductor.swarm.stack_deploy) calls it for blue-green and canary; it can also be used on its own, for example
    to switch back by hand.
author:
  - conductor.swarm developers (@conductor-swarm)
extends_documentation_fragment:
  - conductor.swarm.docker
  - conductor.swarm.edge
attributes:
  check_mode:
    support: full
    description: Reports whether the state would change.
  diff_mode:
    support: none
    description: Returns the state before and after.
  idempotent:
    support: full
    description: The same share and preview again change nothing.
options:
  route:
    description: The route key, the full name of the service without its colour, such as C(shop_web).
    type: str
    required: true
  green:
    description: Percent of the route's requests sent to the green colour; the rest go to blue.
    type: int
    required: true
  preview:
    description: The colour preview requests go to; none when omitted.
    type: str
    choices: [blue, green]
  wait_timeout:
    description: Seconds to wait for every proxy task to apply the new state.
    type: int
    default: 10
"""

EXAMPLES = r"""
- name: Send every request of shop_web back to blue
  conductor.swarm.edge_route:
    route: shop_web
    green: 0
"""

RETURN = r"""
generation:
  description: The routing state's generation that is now applied.
  returned: always
  type: int
applied_ms:
  description: Milliseconds from writing the state until every proxy task reported it applied.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.conductor.swarm.plugins.module_utils.docker_client import docker_argument_spec
from ansible_collections.conductor.swarm.plugins.module_utils.edge.proxy_client import EDGE_ARGS, edge_proxy_for, run_or_fail


def switch(module, proxy):
    params = module.params
    if module.check_mode:
        state = proxy.state()
        entry = state["routes"].get(params["route"])
        return entry != {"green": params["green"], "preview": params["preview"]}, state["generation"], 0
    generation, changed = proxy.set_route(params["route"], params["green"], params["preview"])
    return changed, generation, proxy.wait_applied(generation, params["wait_timeout"])


def main():
    module = AnsibleModule(argument_spec=docker_argument_spec(
        route=dict(type="str", required=True),
        green=dict(type="int", required=True),
        preview=dict(type="str", choices=["blue", "green"]),
        wait_timeout=dict(type="int", default=10),
        **EDGE_ARGS), supports_check_mode=True)
    if not 0 <= module.params["green"] <= 100:
        module.fail_json(msg="green must be a percentage from 0 to 100, not %d; nothing was changed"
                         % module.params["green"])
    proxy = edge_proxy_for(module)
    changed, generation, seconds = run_or_fail(module, "cannot switch route %s" % module.params["route"],
                                               lambda: switch(module, proxy))
    module.exit_json(changed=changed, generation=generation, applied_ms=int(round(seconds * 1000)))


if __name__ == "__main__":
    main()
