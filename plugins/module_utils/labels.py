# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The labels the collection reads and writes on Swarm objects, each named once.

Every module that reads or writes one of these imports it from here. The edge package
(``edge/``: routes, routing state) keeps its own labels: the edge agent's image ships that
package alone.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Docker's own: `docker stack ls/ps/services/rm` find a stack's objects by the namespace label.
NAMESPACE_LABEL = "com.docker.stack.namespace"
IMAGE_LABEL = "com.docker.stack.image"
# Configs and secrets: the full sha256 of the content, whose start is in the object's name.
CONTENT_HASH_LABEL = "conductor.swarm.content-hash"
# Services: the hash of the spec we sent (our labels left out), and that spec, compressed.
HASH_LABEL = "conductor.swarm.spec-hash"
LAST_APPLIED_LABEL = "conductor.swarm.last-applied"
# Services: how one rolls out (strategies/), and what counts as its failure (rollout_state).
STRATEGY_LABEL = "conductor.swarm.strategy"
FAIL_MODE_LABEL = "conductor.swarm.fail-mode"
FAILURES_ALLOWED_LABEL = "conductor.swarm.failures-allowed-per-replica"
# A colour-rolled service's router names the route it serves (variant_router).
ROUTER_LABEL = "conductor.swarm.router-for"
# Labels the edge_proxy role puts on the edge proxy's service: what a router is made of.
EDGE_AGENT_IMAGE_LABEL = "conductor.swarm.edge.agent-image"
EDGE_NETWORK_LABEL = "conductor.swarm.edge.network"
EDGE_CONTROL_LABEL = "conductor.swarm.edge.control-network"
EDGE_DOCKER_API_LABEL = "conductor.swarm.edge.docker-api"
