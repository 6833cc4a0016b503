# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""swarm_validation: what the manager refuses, found on specs the Compose loader accepted."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import textwrap

import pytest
import yaml

from ansible_collections.conductor.swarm.plugins.module_utils.compose.api import convert_stack, load_stack
from ansible_collections.conductor.swarm.plugins.module_utils.swarm_validation import constraint_refusal, swarm_refusals


def web(service_yaml):
    """The converted spec of service `web` from a Compose service body (the loader accepts all of these)."""
    text = "version: '3.8'\nservices:\n  web:\n    image: nginx:1\n" + textwrap.indent(textwrap.dedent(service_yaml), "    ")
    compose = load_stack([yaml.safe_load(text)], {}, lambda path: b"")
    return convert_stack("app", compose, lambda path: b"")["services"]["app_web"]


def test_a_spec_the_swarm_takes_has_no_refusal():
    spec = web("""
        volumes: [/data:/data, /srv/cache:/cache]
        deploy:
          resources: {limits: {cpus: '0.001', memory: 4M}, reservations: {cpus: '0.5', memory: 64M}}
          placement:
            constraints: [node.role == manager, node.labels.zone != z2, "node.hostname==lab-1", engine.labels.os == linux]
        """)
    assert swarm_refusals(spec) == []


@pytest.mark.parametrize("body, refusal", [
    ("deploy: {resources: {limits: {cpus: '0.0001'}}}", "invalid cpu value 0.0001: Must be at least 0.001"),
    ("deploy: {resources: {reservations: {cpus: '0.0009'}}}", "invalid cpu value 0.0009: Must be at least 0.001"),
    ("deploy: {resources: {limits: {memory: 1M}}}", "invalid memory value 1048576: Must be at least 4MiB"),
    ("deploy: {placement: {constraints: [node=foo]}}",
     "placement constraint 'node=foo': constraint expected one operator from ==, !="),
    ("deploy: {placement: {constraints: ['node.labels.a b == x']}}",
     "placement constraint 'node.labels.a b == x': key 'node.labels.a b' is invalid"),
    ("deploy: {placement: {constraints: ['node.role == man@ger']}}",
     "placement constraint 'node.role == man@ger': value 'man@ger' is invalid"),
    ("volumes: [/a:/data, /b:/data]", "duplicate mount point: /data"),
])
def test_each_refusal_is_named_as_the_manager_words_it(body, refusal):
    found = swarm_refusals(web(body))
    assert len(found) == 1 and found[0].startswith(refusal), found


def test_every_refusal_of_a_spec_is_listed():
    spec = web("""
        volumes: [/a:/data, /b:/data]
        deploy: {resources: {limits: {cpus: '0.0001'}}, placement: {constraints: [node=foo]}}
        """)
    assert len(swarm_refusals(spec)) == 3


def test_a_constraint_is_read_as_the_manager_reads_it():
    # "==" is looked for first, and splits at its first place; spaces around the parts do not count.
    assert constraint_refusal("  node.role   ==   worker  ") is None
    assert constraint_refusal("node.labels.x != a==b") == "key 'node.labels.x != a' is invalid"
    assert constraint_refusal("node.labels.x == a!=b") == "value 'a!=b' is invalid"
    assert constraint_refusal("node.role == ") == "value '' is invalid"
