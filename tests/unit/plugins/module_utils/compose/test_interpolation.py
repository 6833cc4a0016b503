# -*- coding: utf-8 -*-
# Copyright: conductor.swarm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""compose/interpolation.py: ``${VAR}`` forms and casts, through the package's interpolate."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.conductor.swarm.plugins.module_utils.compose.api import ComposeError, interpolate
from compose_cases import parse


def test_interpolate_all_forms():
    env = {"SET": "value", "EMPTY": ""}
    doc = {
        "braced": "${SET}",
        "bare": "a $SET b",
        "soft_unset": "${UNSET:-fallback}",
        "soft_empty": "${EMPTY:-fallback}",
        "hard_unset": "${UNSET-fallback}",
        "hard_empty": "${EMPTY-fallback}",
        "required_set": "${SET:?must be set}",
        "required_empty_ok": "${EMPTY?may be empty}",
        "escaped": "$$SET and $${SET}",
        "default_with_specials": "${UNSET:-/non:-alphanumeric}",
        "list": ["${SET}", 3, True, None],
        "$SET": "keys are not interpolated",
    }
    result, warnings = interpolate(doc, env)
    assert result == {
        "braced": "value",
        "bare": "a value b",
        "soft_unset": "fallback",
        "soft_empty": "fallback",
        "hard_unset": "fallback",
        "hard_empty": "",
        "required_set": "value",
        "required_empty_ok": "",
        "escaped": "$SET and ${SET}",
        "default_with_specials": "/non:-alphanumeric",
        "list": ["value", 3, True, None],
        "$SET": "keys are not interpolated",
    }
    assert warnings == []


def test_interpolate_missing_variable_is_blank_with_one_warning():
    result, warnings = interpolate(
        {"image": "nginx:${TAG}", "command": ["echo", "$TAG", "${OTHER}"]}, {})
    assert result == {"image": "nginx:", "command": ["echo", "", ""]}
    assert warnings == [
        "The TAG variable is not set. Defaulting to a blank string.",
        "The OTHER variable is not set. Defaulting to a blank string.",
    ]


@pytest.mark.parametrize("template, message", [
    ("${DB_PASSWORD:?set DB_PASSWORD first}", "required variable DB_PASSWORD is missing a value: set DB_PASSWORD first"),
    ("${DB_PASSWORD?}", "required variable DB_PASSWORD is missing a value"),
    ("${EMPTY:?cannot be empty}", "required variable EMPTY is missing a value: cannot be empty"),
])
def test_interpolate_required_variables(template, message):
    with pytest.raises(ComposeError) as err:
        interpolate({"services": {"db": {"environment": {"PASSWORD": template}}}}, {"EMPTY": ""})
    assert message in str(err.value)
    assert "services.db.environment.PASSWORD" in str(err.value)


@pytest.mark.parametrize("template", ["${", "$}", "${}", "${ foo}", "${foo }", "${foo!}", "cost: 5$"])
def test_interpolate_invalid_templates(template):
    with pytest.raises(ComposeError) as err:
        interpolate({"services": {"web": {"image": template}}}, {})
    assert "services.web.image: invalid interpolation format" in str(err.value)
    assert "escape any $ with another $" in str(err.value)


def test_interpolate_casts_substituted_values_like_docker_cli():
    doc = parse("""
        services:
          web:
            deploy:
              replicas: ${REPLICAS}
              update_config: {max_failure_ratio: "${RATIO}"}
            read_only: ${RO}
            ports:
              - {target: "${PORT}", published: 8080}
            labels:
              count: ${REPLICAS}
          db:
            deploy:
              replicas: "2"
        networks:
          front: {external: "${EXTERNAL}"}
    """)
    result, _warnings = interpolate(doc, {"REPLICAS": "3", "RATIO": "0.25", "RO": "yes", "PORT": "80",
                                          "EXTERNAL": "off"})
    web = result["services"]["web"]
    assert web["deploy"]["replicas"] == 3
    assert web["deploy"]["update_config"]["max_failure_ratio"] == 0.25
    assert web["read_only"] is True
    assert web["ports"][0]["target"] == 80
    assert web["labels"]["count"] == "3"  # labels are strings: no cast
    assert result["services"]["db"]["deploy"]["replicas"] == "2"  # not substituted: not cast
    assert result["networks"]["front"]["external"] is False


def test_interpolate_bad_cast_names_the_key():
    with pytest.raises(ComposeError) as err:
        interpolate({"services": {"web": {"deploy": {"replicas": "${N}"}}}}, {"N": "three"})
    assert "services.web.deploy.replicas" in str(err.value)
    assert "failed to cast" in str(err.value)


def test_interpolate_warns_about_docker_cli_quirks_but_keeps_its_result():
    result, warnings = interpolate(
        {"image": "registry/$PROJECT-api", "password": "${PASSWORD:?must-be-set}"}, {"PROJECT": "shop"})
    # docker/cli reads $PROJECT-api as ${PROJECT-api} and ${X:?a-b} as a default value
    assert result == {"image": "registry/shop", "password": "be-set"}
    assert any("$PROJECT-api" in w and "${PROJECT}" in w for w in warnings)
    assert any("${PASSWORD:?must-be-set} is read as a default value" in w for w in warnings)
