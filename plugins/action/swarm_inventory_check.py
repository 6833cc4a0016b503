# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side check of the swarm groups: nothing is sent to any host."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase

from ansible_collections.conductor.swarm.plugins.module_utils.swarm_topology import validate_groups


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    ARGUMENT_SPEC = dict(
        managers=dict(type="list", elements="str", default=[]),
        workers=dict(type="list", elements="str", default=[]),
        retired=dict(type="list", elements="str", default=[]),
    )

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        _validation, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        errors, warnings = validate_groups(args["managers"], args["workers"], args["retired"])
        result.update(changed=False, errors=errors, warnings=warnings,
                      managers=args["managers"], workers=args["workers"], retired=args["retired"])
        if errors:
            result["failed"] = True
            result["msg"] = "inventory rejected, no host was touched: " + "; ".join(errors)
        else:
            result["msg"] = "%d manager(s), %d worker(s), %d retired" % (
                len(args["managers"]), len(args["workers"]), len(args["retired"]))
        return result
