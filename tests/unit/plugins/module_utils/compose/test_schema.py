# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""compose/schema.py: the Compose 3.x schema check."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.conductor.swarm.plugins.module_utils.compose.api import ComposeError, load_stack
from compose_cases import convert, parse, reader


@pytest.mark.parametrize("text, words", [
    ("services: {web: {image: web, imagee: web}}", ["services.web", "imagee"]),
    ("services: {web: {image: web}}\nvolumez: {}", ["volumez"]),
    ("services: {web: {image: web, deploy: {replica: 2}}}", ["services.web.deploy", "replica"]),
    ("services: {web: {image: web, healthcheck: {command: ls}}}", ["services.web.healthcheck", "command"]),
    ("services: {web: {image: web}}\nnetworks: {front: {drivr: overlay}}", ["networks.front", "drivr"]),
])
def test_unknown_keys_are_errors_that_name_them(text, words):
    with pytest.raises(ComposeError) as err:
        convert(text)
    for word in words:
        assert word in str(err.value)


def test_errors_name_the_file():
    with pytest.raises(ComposeError) as err:
        load_stack([("prod.yml", parse("services: {web: {image: web, bogus: 1}}"))], {}, reader())
    assert str(err.value).startswith("prod.yml: services.web:")


def test_extension_keys_are_allowed():
    result = convert("""
        x-defaults: &defaults {image: web}
        services:
          web:
            <<: *defaults
            x-note: anything goes
    """)
    assert result["services"]["app_web"]["TaskTemplate"]["ContainerSpec"]["Image"] == "web"


def test_keys_newer_than_the_file_version_are_errors():
    with pytest.raises(ComposeError) as err:
        convert('version: "3.4"\nservices: {web: {image: web, init: true}}')
    assert "services.web.init" in str(err.value)
    assert "3.7" in str(err.value)


def test_booleans_in_environment_are_errors_with_a_hint():
    with pytest.raises(ComposeError) as err:
        convert("services: {web: {image: web, environment: {DEBUG: true}}}")
    assert "services.web.environment.DEBUG" in str(err.value)
    assert 'quote it: "true"' in str(err.value)


def test_shm_size_must_be_a_string_as_docker_cli_decodes_it():
    # The schema allows a number; docker/cli's loader decodes shm_size into a Go string and refuses
    # one ("'shm_size' expected type 'string', got unconvertible type 'int'"): found by the parity
    # corpus (tests/parity/corpus/refuse-shm-size-number).
    with pytest.raises(ComposeError) as err:
        convert("services: {web: {image: web, shm_size: 67108864}}")
    assert "services.web.shm_size: must be a string, not 67108864" in str(err.value)
    result = convert("services: {web: {image: web, shm_size: 64M}}")
    assert "Ignoring unsupported options: shm_size" in result["warnings"]
