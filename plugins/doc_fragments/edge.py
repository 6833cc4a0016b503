# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Matches EDGE_ARGS in plugins/module_utils/edge/proxy_client.py.
    DOCUMENTATION = r"""
options:
  edge_service:
    description: The edge proxy's Swarm service (the role C(conductor.swarm.edge_proxy) names it C(<stack>_proxy)).
    type: str
    default: edge_proxy
"""
