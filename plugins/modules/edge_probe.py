#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: edge_probe
short_description: One request to a colour of a service through the edge proxy's preview route
version_added: 0.1.0
description:
  - Sends C(GET) O(path) to an edge proxy task with the header C(X-Conductor-Preview) naming O(variant), so the proxy
    answers from that colour whatever share of traffic it takes, and returns the status and body.
  - The smoke check of blue-green; it changes nothing.
author:
  - conductor.swarm developers (@conductor-swarm)
extends_documentation_fragment:
  - conductor.swarm.docker
  - conductor.swarm.edge
attributes:
  check_mode:
    support: full
    description: Sends the request in check mode too; it changes nothing.
  diff_mode:
    support: none
    description: Changes nothing.
  idempotent:
    support: full
    description: Changes nothing.
options:
  route:
    description: The route key, such as C(shop_web).
    type: str
    required: true
  variant:
    description: The colour to ask.
    type: str
    required: true
    choices: [blue, green]
  path:
    description: Path to request.
    type: str
    default: /
  host:
    description: Host header, for a route that matches on host.
    type: str
  timeout:
    description: Seconds to wait for the answer.
    type: float
    default: 5
"""

EXAMPLES = r"""
- name: Ask green before it takes traffic
  conductor.swarm.edge_probe:
    route: shop_web
    variant: green
    path: /healthz
  register: probe
"""

RETURN = r"""
status:
  description: HTTP status, or null when no answer came.
  returned: always
  type: int
body:
  description: The first 4 KiB of the body, or why no answer came.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.conductor.swarm.plugins.module_utils.docker_client import docker_argument_spec
from ansible_collections.conductor.swarm.plugins.module_utils.edge.proxy_client import EDGE_ARGS, edge_proxy_for, run_or_fail


def main():
    module = AnsibleModule(argument_spec=docker_argument_spec(
        route=dict(type="str", required=True),
        variant=dict(type="str", required=True, choices=["blue", "green"]),
        path=dict(type="str", default="/"),
        host=dict(type="str"),
        timeout=dict(type="float", default=5),
        **EDGE_ARGS), supports_check_mode=True)
    params = module.params
    if not params["path"].startswith("/"):
        module.fail_json(msg="path must start with /, not %r" % params["path"])
    proxy = edge_proxy_for(module)
    status, body = run_or_fail(module, "cannot reach the edge proxy", lambda: proxy.probe(
        params["route"], params["path"], params["variant"], params["timeout"], host=params["host"]))
    module.exit_json(changed=False, status=status, body=(body or "")[:4096])


if __name__ == "__main__":
    main()
