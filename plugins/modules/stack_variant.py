#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: stack_variant
short_description: Scale one colour of a blue-green or canary service of a stack
version_added: 0.1.0
description:
  - Sets the replicas of one variant (colour) of a stack's service, such as C(shop_web-blue), keeping its spec
    otherwise as it is. Scaled to 0, a colour is out of service but keeps its spec, so the next release of that
    colour is an update, not a new service.
  - The service's C(conductor.swarm.last-applied) and C(conductor.swarm.spec-hash) labels follow the new count, so
    the next deploy does not report the scaling as drift.
  - C(conductor.swarm.stack_deploy) calls it when a release is done (the old colour) or failed (the new one).
author:
  - conductor.swarm developers (@conductor-swarm)
extends_documentation_fragment:
  - conductor.swarm.docker
attributes:
  check_mode:
    support: full
    description: Reports whether the count would change.
  diff_mode:
    support: none
    description: Reports the count before and after in its result.
  idempotent:
    support: full
    description: A variant already at that count is left alone.
options:
  name:
    description: Stack name.
    type: str
    required: true
  service:
    description: Full name of the variant's service, such as C(shop_web-green).
    type: str
    required: true
  replicas:
    description: Replicas to run.
    type: int
    required: true
"""

EXAMPLES = r"""
- name: Take the idle colour of shop's web out of service
  conductor.swarm.stack_variant:
    name: shop
    service: shop_web-blue
    replicas: 0
"""

RETURN = r"""
before:
  description: Replicas before.
  returned: always
  type: int
after:
  description: Replicas after.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.conductor.swarm.plugins.module_utils.docker_client import (
    DockerException,
    RequestException,
    SwarmClient,
    docker_argument_spec,
)
from ansible_collections.conductor.swarm.plugins.module_utils.variant_scaling import scaled_spec


def main():
    module = AnsibleModule(argument_spec=docker_argument_spec(
        name=dict(type="str", required=True),
        service=dict(type="str", required=True),
        replicas=dict(type="int", required=True),
    ), supports_check_mode=True)
    params = module.params
    if params["replicas"] < 0:
        module.fail_json(msg="replicas must be 0 or more, not %d" % params["replicas"])
    client = SwarmClient(module)
    client.require_manager()
    try:
        found = [s for s in client.stack_services(params["name"]) if s["Spec"]["Name"] == params["service"]]
        if not found:
            module.fail_json(msg="stack %s has no service %s" % (params["name"], params["service"]))
        service = found[0]
        before, spec = scaled_spec(service, params["replicas"])
        if before != params["replicas"] and not module.check_mode:
            client.update_service(service["ID"], service["Version"]["Index"], spec)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    except (DockerException, RequestException) as exc:
        module.fail_json(msg="cannot scale %s: %s" % (params["service"], exc))
    module.exit_json(changed=before != params["replicas"], before=before, after=params["replicas"])


if __name__ == "__main__":
    main()
